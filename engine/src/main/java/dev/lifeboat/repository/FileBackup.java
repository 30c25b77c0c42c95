package dev.lifeboat.repository;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressTracker;
import dev.lifeboat.repository.chunking.Chunker;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.ChunkIds;
import dev.lifeboat.util.SlicedIo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/** Reads one file through a chunker into a {@link ChunkWriter.Session}; one instance per worker thread (reuses its
 * buffer). */
public final class FileBackup {
    /**
     * Bytes read in one go, also the longest run of a range: a run as long as the range (32–64 MiB) cost each worker
     * a buffer of that size, in the old generation for the whole backup.
     */
    private static final int READ_SIZE = 4 * 1024 * 1024;

    private final byte[] buf;

    public FileBackup(int maxChunk) {
        this.buf = new byte[maxChunk * 2 + READ_SIZE];
    }

    /**
     * Where an incremental finds the previous version of a file's blocks, to store changed blocks as page deltas.
     * Every block is still read and hashed: its id (a keyed hash of these bytes) decides whether it is stored, and
     * the file's digest is built from the ids of the bytes read, never from the parent's references.
     *
     * @param parentRefs the file's chunk references in the parent backup (block i at offset i × block size)
     */
    public record DeltaSource(List<String> parentRefs, ChunkReader reader, int pageSize) {}

    /**
     * Looks at the bytes of each chunk as they are read (e.g. to check page checksums); {@code fileOffset} is where
     * the chunk starts in the file.
     */
    public interface BlockCheck {
        void check(byte[] data, int off, int len, long fileOffset) throws IOException;
    }

    public Snapshot.FileEntry backup(
            Path file,
            String relPath,
            PosixFileAttributes attrs,
            Chunker chunker,
            ChunkWriter.Session session,
            ProgressTracker progress,
            Cancellation cancel)
            throws IOException {
        return backup(file, relPath, attrs, chunker, session, progress, cancel, null, null);
    }

    /**
     * Chunks and stores the file as it is now. A file that shrinks or grows while being read is stored as read
     * (PostgreSQL's WAL replay repairs such files on restore).
     */
    public Snapshot.FileEntry backup(
            Path file,
            String relPath,
            PosixFileAttributes attrs,
            Chunker chunker,
            ChunkWriter.Session session,
            ProgressTracker progress,
            Cancellation cancel,
            DeltaSource delta,
            BlockCheck check)
            throws IOException {
        List<String> chunks = new ArrayList<>();
        ContentDigest digest = new ContentDigest();
        long[] offset = {0};
        long total = eachChunk(file, chunker, cancel, (data, start, cut) -> {
            if (check != null) {
                check.check(data, start, cut, offset[0]);
            }
            offset[0] += cut;
            ChunkId id = session.idOf(data, start, cut);
            digest.add(id);
            String ref = null;
            if (delta != null
                    && !session.isKnown(id)
                    && chunks.size() < delta.parentRefs().size()) {
                ref = storeDelta(delta, delta.parentRefs().get(chunks.size()), session, data, start, cut, id);
            }
            if (ref == null) {
                session.store(data, start, cut, id);
                ref = id.hex();
            }
            chunks.add(ref);
            progress.addBytes(cut);
        });
        return new Snapshot.FileEntry(
                relPath,
                Snapshot.Kind.FILE,
                mode(attrs.permissions()),
                attrs.owner().getName(),
                attrs.group().getName(),
                attrs.lastModifiedTime().toMillis(),
                total,
                digest.finish(),
                chunks,
                null);
    }

    /** A file's size and manifest digest as read from disk now. */
    public record Digested(long size, String digest) {}

    /**
     * Re-computes the manifest digest of a file on disk (e.g. a restored one), cutting it with the chunker its
     * backup used: the same bytes give the same chunks, ids and digest.
     */
    public Digested digest(Path file, Chunker chunker, ChunkIds ids, ProgressTracker progress, Cancellation cancel)
            throws IOException {
        ContentDigest digest = new ContentDigest();
        long total = eachChunk(file, chunker, cancel, (data, start, cut) -> {
            digest.add(ChunkId.of(ids.idOf(data, start, cut)));
            progress.addBytes(cut);
        });
        return new Digested(total, digest.finish());
    }

    private interface ChunkSink {
        void accept(byte[] data, int start, int length) throws IOException;
    }

    /** Reads the file through the chunker, handing each chunk to the sink; returns the bytes read. */
    private long eachChunk(Path file, Chunker chunker, Cancellation cancel, ChunkSink sink) throws IOException {
        long total = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            int start = 0;
            int end = 0;
            boolean eof = false;
            while (true) {
                while (!eof && end - start < chunker.maxSize()) {
                    if (buf.length - end < READ_SIZE) {
                        System.arraycopy(buf, start, buf, 0, end - start);
                        end -= start;
                        start = 0;
                    }
                    int n = ch.read(ByteBuffer.wrap(buf, end, Math.min(READ_SIZE, buf.length - end)));
                    if (n < 0) {
                        eof = true;
                    } else {
                        end += n;
                    }
                }
                if (start == end) {
                    return total;
                }
                cancel.throwIfCancelled();
                int cut = chunker.nextCut(buf, start, end - start, eof);
                sink.accept(buf, start, cut);
                start += cut;
                total += cut;
            }
        }
    }

    /**
     * What one range stored: its chunk references, the content ids of its blocks (for the file's digest), its length
     * and how many of its bytes were taken over from the parent without reading them.
     */
    public record RangeResult(List<String> refs, List<ChunkId> contentIds, int length, long takenOver) {}

    /**
     * Stores one block-aligned range of a large file (fixed blocks of {@code blockSize}; block i of the range is
     * block {@code firstBlock + i} of the file, which is what deltas and {@code takeOver} are matched against).
     *
     * @param takeOver which blocks keep the parent's reference (with its content id) without being read; null to
     *                 read every block
     */
    public RangeResult backupRange(
            Path file,
            long offset,
            int length,
            int blockSize,
            ChunkWriter.Session session,
            DeltaSource delta,
            int firstBlock,
            BlockCheck check,
            ProgressTracker progress,
            Cancellation cancel,
            TakeOver takeOver)
            throws IOException {
        List<String> refs = new ArrayList<>();
        List<ChunkId> ids = new ArrayList<>();
        long takenOver = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            // fewer than length if the file is shorter (or shrinks while we read it): store what is there
            int avail = takeOver == null ? length : (int) Math.max(0, Math.min(length, ch.size() - offset));
            int runStart = 0; // rangeBuf holds the file's bytes [offset + runStart, offset + runEnd)
            int runEnd = 0;
            for (int pos = 0; pos < avail; ) {
                cancel.throwIfCancelled();
                int block = firstBlock + refs.size();
                int cut = Math.min(blockSize, avail - pos);
                String kept = takeOver == null ? null : takeOver.ref(block, cut);
                if (kept != null) {
                    refs.add(kept);
                    ids.add(ChunkRefs.contentId(kept));
                    takenOver += cut;
                    progress.addBytes(cut);
                    pos += cut;
                    continue;
                }
                if (runEnd <= pos) {
                    // read up to the next block taken over (or the end) in one go
                    int end = pos + cut;
                    while (end < avail
                            && end - pos < READ_SIZE
                            && (takeOver == null
                                    || takeOver.ref(firstBlock + end / blockSize, Math.min(blockSize, avail - end))
                                            == null)) {
                        end = Math.min(avail, end + blockSize);
                    }
                    if (rangeBuf == null || rangeBuf.length < end - pos) {
                        rangeBuf = new byte[end - pos];
                    }
                    int n = SlicedIo.read(ch, rangeBuf, 0, end - pos, offset + pos);
                    runStart = pos;
                    runEnd = pos + n;
                    if (runEnd < end) {
                        avail = runEnd; // the file shrank while we read it: it ends here
                        if (pos >= avail) {
                            break;
                        }
                        cut = Math.min(blockSize, avail - pos);
                    }
                }
                int at = pos - runStart;
                if (check != null) {
                    check.check(rangeBuf, at, cut, offset + pos);
                }
                ChunkId id = session.idOf(rangeBuf, at, cut);
                ids.add(id);
                String ref = null;
                if (delta != null
                        && !session.isKnown(id)
                        && block < delta.parentRefs().size()) {
                    ref = storeDelta(delta, delta.parentRefs().get(block), session, rangeBuf, at, cut, id);
                }
                if (ref == null) {
                    session.store(rangeBuf, at, cut, id);
                    ref = id.hex();
                }
                refs.add(ref);
                progress.addBytes(cut);
                pos += cut;
            }
            return new RangeResult(refs, ids, avail, takenOver);
        }
    }

    /** Which blocks of a file an incremental keeps from its parent without reading them. */
    public interface TakeOver {
        /** The parent's plain reference for block {@code block} if it is kept at length {@code length}, else null. */
        String ref(int block, int length);
    }

    private byte[] rangeBuf;

    /** Stores a changed block as the pages that differ from the parent's version; null if a whole block is better. */
    private String storeDelta(
            DeltaSource delta,
            String parentRef,
            ChunkWriter.Session session,
            byte[] buf,
            int start,
            int len,
            ChunkId contentId)
            throws IOException {
        ChunkId baseId = ChunkRefs.base(parentRef);
        byte[] base = delta.reader().readChunk(baseId);
        byte[] encoded = ChunkRefs.encodeDelta(baseId, base, buf, start, len, delta.pageSize());
        if (encoded == null) {
            return null;
        }
        ChunkId deltaId = session.idOf(encoded, 0, encoded.length);
        // deltas are a small share of the data read, so the strongest level costs little time and saves most bytes
        session.store(encoded, 0, encoded.length, deltaId, Compression.HIGH);
        return ChunkRefs.delta(deltaId, baseId, contentId);
    }

    public static PosixFileAttributes attributes(Path p) throws IOException {
        return Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    }

    public static int mode(Set<PosixFilePermission> perms) {
        int m = 0;
        for (PosixFilePermission p : perms) {
            m |= 1 << (8 - p.ordinal());
        }
        return m;
    }

    public static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> out = EnumSet.noneOf(PosixFilePermission.class);
        for (PosixFilePermission p : PosixFilePermission.values()) {
            if ((mode & (1 << (8 - p.ordinal()))) != 0) {
                out.add(p);
            }
        }
        return out;
    }
}
