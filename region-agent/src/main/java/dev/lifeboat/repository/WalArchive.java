package dev.lifeboat.repository;

import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The WAL archive inside a repository: one object per segment or history file under {@code wal/<timeline>/},
 * compressed (zstd-1: WAL is cheap to compress and must keep up with the server) and sealed with the file name as
 * associated data, so an object cannot be passed off as another segment.
 */
public final class WalArchive {
    public static final String PREFIX = "wal/";
    private static final Pattern SEGMENT = Pattern.compile("[0-9A-F]{24}");
    private static final Pattern PARTIAL = Pattern.compile("[0-9A-F]{24}\\.partial");
    private static final Pattern HISTORY = Pattern.compile("[0-9A-F]{8}\\.history");
    private static final Pattern BACKUP_HISTORY = Pattern.compile("[0-9A-F]{24}\\.[0-9A-F]{8}\\.backup");

    public enum PushResult { STORED, ALREADY_ARCHIVED }

    private final Repository repo;

    public WalArchive(Repository repo) {
        this.repo = repo;
    }

    public static boolean isWalFileName(String name) {
        return SEGMENT.matcher(name).matches() || HISTORY.matcher(name).matches() || PARTIAL.matcher(name).matches()
                || BACKUP_HISTORY.matcher(name).matches();
    }

    public static boolean isSegment(String name) {
        return SEGMENT.matcher(name).matches();
    }

    /** An in-progress segment written by the streaming receiver (or by PostgreSQL at promotion): {@code <segment>.partial}. */
    public static boolean isPartial(String name) {
        return PARTIAL.matcher(name).matches();
    }

    public static boolean isHistory(String name) {
        return HISTORY.matcher(name).matches();
    }

    /** The object key: {@code wal/<timeline>/<name>}. */
    public static String key(String name) {
        if (!isWalFileName(name)) {
            throw new IllegalArgumentException("'" + name + "' is not a WAL segment or history file name");
        }
        return PREFIX + name.substring(0, 8) + "/" + name;
    }

    private static byte[] aad(String name) {
        return ("lifeboat-wal:" + name).getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Stores a WAL file durably. Pushing a file that is already archived with identical content succeeds (PostgreSQL
     * retries archive_command after a crash); different content under the same name is refused, since it means two
     * clusters or timelines are writing into one archive.
     */
    public PushResult push(String name, byte[] content) throws IOException {
        String key = key(name);
        Optional<byte[]> existing = read(name);
        if (existing.isPresent()) {
            if (MessageDigest.isEqual(sha256(existing.get()), sha256(content))) {
                return PushResult.ALREADY_ARCHIVED;
            }
            if (!name.endsWith(".partial")) {
                throw new RepositoryException("WAL file " + name + " is already archived in " + repo.uri()
                        + " with different content: is another cluster (or a restored copy) archiving into this repository? "
                        + "Give it its own repository");
            }
        }
        byte[] sealed = repo.sealMetadata(Compression.zstd(content, 1), aad(name));
        repo.store().put(key, sealed);
        return PushResult.STORED;
    }

    /**
     * Stores (or replaces) the in-progress copy {@code <segment>.partial} of a segment the streaming receiver is
     * still filling. Unlike {@link #push} it does not read the previous version first: the receiver rewrites it every
     * second, and it only ever grows.
     */
    public void pushPartial(String name, byte[] content) throws IOException {
        if (!PARTIAL.matcher(name).matches()) {
            throw new IllegalArgumentException("'" + name + "' is not a partial WAL segment name");
        }
        repo.store().put(key(name), repo.sealMetadata(Compression.zstd(content, 1), aad(name)));
    }

    /** Reads and authenticates a WAL file; empty if it is not archived. */
    public Optional<byte[]> read(String name) throws IOException {
        byte[] sealed;
        try {
            sealed = repo.store().get(key(name));
        } catch (BlobNotFoundException e) {
            return Optional.empty();
        }
        byte[] plain = repo.openMetadata(sealed, aad(name), "archived WAL file " + name);
        try {
            return Optional.of(Compression.unzstd(plain));
        } catch (IllegalArgumentException e) {
            throw new RepositoryException.Corrupt("archived WAL file " + name + " is damaged: " + e.getMessage());
        }
    }

    public boolean exists(String name) throws IOException {
        return repo.store().stat(key(name)).isPresent();
    }

    public void delete(String name) throws IOException {
        repo.store().delete(key(name));
    }

    /** Every archived WAL file name, in order (timeline, then position). */
    public List<String> list() throws IOException {
        List<String> out = new ArrayList<>();
        for (BlobInfo b : repo.store().list(PREFIX)) {
            out.add(b.key().substring(b.key().lastIndexOf('/') + 1));
        }
        out.sort(null);
        return out;
    }

    public List<BlobInfo> listObjects() throws IOException {
        return repo.store().list(PREFIX);
    }

    /**
     * The segment number of a segment or partial name ({@code TTTTTTTTXXXXXXXXYYYYYYYY[.partial]}): the segment that
     * starts at LSN {@code number * segmentSize}.
     */
    public static long segmentNumber(String name, long segmentSize) {
        return Long.parseLong(name.substring(8, 16), 16) * (0x1_0000_0000L / segmentSize) + Long.parseLong(name.substring(16, 24), 16);
    }

    /**
     * How many bytes of WAL the partial {@code name} in {@code store} holds (this repository's store, or a region's
     * copy of it, which has the same keys), read from the compressed frame's header without decompressing it; -1 if
     * the partial is not there (the receiver completed the segment meanwhile).
     */
    public long partialLength(dev.lifeboat.storage.BlobStore store, String name) throws IOException {
        if (!isPartial(name)) {
            throw new IllegalArgumentException("'" + name + "' is not a partial WAL segment name");
        }
        byte[] sealed;
        try {
            sealed = store.get(key(name));
        } catch (BlobNotFoundException e) {
            return -1;
        }
        long n = com.github.luben.zstd.Zstd.getFrameContentSize(repo.openMetadata(sealed, aad(name), "archived WAL file " + name + " in " + store.uri()));
        if (n < 0) {
            throw new RepositoryException.Corrupt("archived WAL file " + name + " in " + store.uri() + " is damaged: no content size in its header");
        }
        return n;
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
