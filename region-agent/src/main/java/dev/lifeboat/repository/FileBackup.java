package dev.lifeboat.repository;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressTracker;
import dev.lifeboat.repository.chunking.Chunker;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/** Reads one file through a chunker into a {@link ChunkWriter.Session}; one instance per worker thread (reuses its buffer). */
public final class FileBackup {
    private static final int READ_SIZE = 4 * 1024 * 1024;
    private final byte[] buf;
    private final MessageDigest sha;

    public FileBackup(int maxChunk) {
        this.buf = new byte[maxChunk * 2 + READ_SIZE];
        try {
            this.sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Where an incremental finds the previous version of a file's blocks, to store changed blocks as page deltas.
     *
     * @param parentRefs the file's chunk references in the parent backup (block i at offset i × block size)
     */
    public record DeltaSource(List<String> parentRefs, ChunkReader reader, int pageSize) {
    }

    public Snapshot.FileEntry backup(Path file, String relPath, PosixFileAttributes attrs, Chunker chunker,
                                     ChunkWriter.Session session, ProgressTracker progress, Cancellation cancel)
            throws IOException {
        return backup(file, relPath, attrs, chunker, session, progress, cancel, null);
    }

    /**
     * Chunks and stores the file as it is now. A file that shrinks or grows while being read is stored as read
     * (PostgreSQL's WAL replay repairs such files on restore).
     */
    public Snapshot.FileEntry backup(Path file, String relPath, PosixFileAttributes attrs, Chunker chunker,
                                     ChunkWriter.Session session, ProgressTracker progress, Cancellation cancel,
                                     DeltaSource delta) throws IOException {
        sha.reset();
        List<String> chunks = new ArrayList<>();
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
                        sha.update(buf, end, n);
                        end += n;
                    }
                }
                if (start == end) {
                    break;
                }
                cancel.throwIfCancelled();
                int cut = chunker.nextCut(buf, start, end - start, eof);
                ChunkId id = session.idOf(buf, start, cut);
                String ref = null;
                if (delta != null && !session.isKnown(id) && chunks.size() < delta.parentRefs().size()) {
                    ref = storeDelta(delta, delta.parentRefs().get(chunks.size()), session, buf, start, cut);
                }
                if (ref == null) {
                    session.store(buf, start, cut, id);
                    ref = id.hex();
                }
                chunks.add(ref);
                start += cut;
                total += cut;
                progress.addBytes(cut);
            }
        }
        return new Snapshot.FileEntry(relPath, Snapshot.Kind.FILE, mode(attrs.permissions()), attrs.owner().getName(),
                attrs.group().getName(), attrs.lastModifiedTime().toMillis(), total, HexFormat.of().formatHex(sha.digest()),
                chunks, null);
    }

    /** The bytes one range covered, kept until they are hashed in file order. */
    public record RangeResult(List<String> refs, byte[] bytes, int length) {
    }

    /**
     * Stores one block-aligned range of a large file (fixed blocks of {@code blockSize}; block i of the range is
     * block {@code firstBlock + i} of the file, which is what deltas are matched against). The caller hashes the
     * returned bytes in file order; they stay valid until this instance's next range.
     */
    public RangeResult backupRange(Path file, long offset, int length, int blockSize, ChunkWriter.Session session,
                                   DeltaSource delta, int firstBlock, ProgressTracker progress, Cancellation cancel)
            throws IOException {
        if (rangeBuf == null || rangeBuf.length < length) {
            rangeBuf = new byte[length];
        }
        int n = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (n < length) {
                int r = ch.read(ByteBuffer.wrap(rangeBuf, n, length - n), offset + n);
                if (r < 0) {
                    break; // the file shrank while we read it: store what is there
                }
                n += r;
            }
        }
        List<String> refs = new ArrayList<>();
        for (int pos = 0; pos < n; pos += blockSize) {
            cancel.throwIfCancelled();
            int cut = Math.min(blockSize, n - pos);
            ChunkId id = session.idOf(rangeBuf, pos, cut);
            int block = firstBlock + refs.size();
            String ref = null;
            if (delta != null && !session.isKnown(id) && block < delta.parentRefs().size()) {
                ref = storeDelta(delta, delta.parentRefs().get(block), session, rangeBuf, pos, cut);
            }
            if (ref == null) {
                session.store(rangeBuf, pos, cut, id);
                ref = id.hex();
            }
            refs.add(ref);
            progress.addBytes(cut);
        }
        return new RangeResult(refs, rangeBuf, n);
    }

    private byte[] rangeBuf;

    /** Stores a changed block as the pages that differ from the parent's version; null if a whole block is better. */
    private String storeDelta(DeltaSource delta, String parentRef, ChunkWriter.Session session, byte[] buf, int start, int len)
            throws IOException {
        ChunkId baseId = ChunkRefs.base(parentRef);
        byte[] base = delta.reader().readChunk(baseId);
        byte[] encoded = ChunkRefs.encodeDelta(baseId, base, buf, start, len, delta.pageSize());
        if (encoded == null) {
            return null;
        }
        ChunkId deltaId = session.idOf(encoded, 0, encoded.length);
        // deltas are a small share of the data read, so the strongest level costs little time and saves most bytes
        session.store(encoded, 0, encoded.length, deltaId, dev.lifeboat.repository.compress.Compression.HIGH);
        return ChunkRefs.delta(deltaId, baseId);
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
        Set<PosixFilePermission> out = java.util.EnumSet.noneOf(PosixFilePermission.class);
        for (PosixFilePermission p : PosixFilePermission.values()) {
            if ((mode & (1 << (8 - p.ordinal()))) != 0) {
                out.add(p);
            }
        }
        return out;
    }
}
