package dev.lifeboat.repository;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Reads a file's chunks back in order. Chunks stored next to each other in one pack are fetched with a single
 * ranged read (up to {@link #MAX_RANGE} bytes), which keeps request counts low on object stores.
 */
public final class ChunkReader {
    static final int MAX_RANGE = 16 * 1024 * 1024;
    private final Repository repo;
    private final ChunkIndex index;

    public ChunkReader(Repository repo, ChunkIndex index) {
        this.repo = repo;
        this.index = index;
    }

    /** Receives each chunk's plaintext with its content id (the id a backup computed from these bytes). */
    public interface ChunkSink {
        void accept(ChunkId contentId, byte[] plain);
    }

    /** Decrypts and checks each chunk (or rebuilds each delta block) in order, handing the plaintext to {@code sink}.
     * */
    public void read(List<String> refs, Consumer<byte[]> sink) throws IOException {
        readWithIds(refs, (id, plain) -> sink.accept(plain));
    }

    /**
     * Like {@link #read(List, Consumer)}, with each chunk's content id: a plain chunk's is its reference (checked on
     * decryption); a delta block's is re-computed from the rebuilt bytes, so a wrong rebuild shows in the file digest.
     */
    public void readWithIds(List<String> refs, ChunkSink sink) throws IOException {
        int i = 0;
        while (i < refs.size()) {
            if (ChunkRefs.isDelta(refs.get(i))) {
                byte[] block = readDelta(refs.get(i));
                ChunkId rebuilt = ChunkId.of(repo.chunkIds().idOf(block, 0, block.length));
                ChunkId recorded = ChunkRefs.contentId(refs.get(i));
                if (recorded != null && !recorded.equals(rebuilt)) {
                    throw new RepositoryException.Corrupt("delta block "
                            + refs.get(i).substring(0, 16) + " rebuilds to other bytes than the manifest records");
                }
                sink.accept(rebuilt, block);
                i++;
                continue;
            }
            List<PackedChunk> run = new ArrayList<>();
            PackedChunk first = locate(refs.get(i));
            run.add(first);
            int j = i + 1;
            long end = first.offset() + first.length();
            while (j < refs.size() && !ChunkRefs.isDelta(refs.get(j))) {
                PackedChunk next = locate(refs.get(j));
                if (!next.packId().equals(first.packId())
                        || next.offset() != end
                        || end + next.length() - first.offset() > MAX_RANGE) {
                    break;
                }
                run.add(next);
                end += next.length();
                j++;
            }
            byte[] range =
                    repo.store().getRange(Pack.key(first.packId()), first.offset(), (int) (end - first.offset()));
            for (PackedChunk c : run) {
                sink.accept(c.id(), repo.openChunk(c, range, (int) (c.offset() - first.offset())));
            }
            i = j;
        }
    }

    /** The plaintext length a reference reads back to (a delta's block is as long as its base). */
    public int rawLength(String ref) {
        ChunkId id = ChunkRefs.isDelta(ref) ? ChunkRefs.base(ref) : ChunkId.parse(ref);
        PackedChunk c = index.get(id);
        if (c == null) {
            throw new RepositoryException.Corrupt("chunk " + id + " is missing from the repository index");
        }
        return c.rawLength();
    }

    /** Reads one plain chunk by id. */
    public byte[] readChunk(ChunkId id) throws IOException {
        PackedChunk c = index.get(id);
        if (c == null) {
            throw new RepositoryException.Corrupt("chunk " + id + " is missing from the repository index");
        }
        return repo.openChunk(c, repo.store().getRange(Pack.key(c.packId()), c.offset(), c.length()), 0);
    }

    private byte[] readDelta(String ref) throws IOException {
        List<ChunkId> ids = ChunkRefs.ids(ref);
        return ChunkRefs.applyDelta(readChunk(ids.get(1)), readChunk(ids.get(0)), ids.get(1));
    }

    public PackedChunk locate(String hexId) {
        PackedChunk c = index.get(ChunkId.parse(hexId));
        if (c == null) {
            throw new RepositoryException.Corrupt("chunk " + hexId.substring(0, Math.min(16, hexId.length()))
                    + " is missing from the repository index");
        }
        return c;
    }
}
