package dev.lifeboat.storage;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The one interface every storage backend implements (local disk, S3, Azure Blob, Google Cloud Storage).
 * Keys are '/'-separated relative names such as {@code data/ab/abcdef…}. Every write is atomic and durable
 * when the call returns: a reader sees either the whole object or none of it.
 */
public interface BlobStore extends Closeable {

    /** Stores the object, replacing any previous one with the same key. */
    void put(String key, byte[] data, int offset, int length) throws IOException;

    default void put(String key, byte[] data) throws IOException {
        put(key, data, 0, data.length);
    }

    /**
     * Creates the object only if no object has that key (the primitive locks are built on).
     *
     * @return true if this call created it, false if it already existed
     */
    boolean putIfAbsent(String key, byte[] data) throws IOException;

    /**
     * For a conditional create the store refused: whether the object now holds exactly {@code data}. The store stack
     * retries operations (see {@code RetryingBlobStore}), and a retry of a create whose first attempt succeeded but
     * whose answer was lost is refused as "exists"; the bytes tell it apart. Callers create objects with content unique
     * to them (locks, a new
     * repository's config) or content that is the same whoever writes it (WAL, content-addressed files), so
     * "it holds my bytes" means "created" in both cases.
     */
    default boolean holdsExactly(String key, byte[] data) throws IOException {
        try {
            return Arrays.equals(get(key), data);
        } catch (BlobNotFoundException e) {
            return false;
        }
    }

    /** Reads the whole object. */
    byte[] get(String key) throws IOException;

    /** Reads {@code length} bytes starting at {@code offset}; fails if the object is shorter. */
    byte[] getRange(String key, long offset, int length) throws IOException;

    /** Streams the whole object (for objects too large to hold in memory at once). */
    InputStream open(String key) throws IOException;

    Optional<BlobInfo> stat(String key) throws IOException;

    /** All objects whose key starts with {@code prefix}, in key order. */
    List<BlobInfo> list(String prefix) throws IOException;

    /** Deletes the object; deleting a missing object is not an error. */
    void delete(String key) throws IOException;

    /**
     * Removes what interrupted writes left behind and older than {@code olderThan} (e.g. the local store's temporary
     * files; object stores leave nothing visible); returns how many. Decorators pass it on to the store they wrap.
     */
    default int removeStaleTemporaryFiles(Duration olderThan) throws IOException {
        return 0;
    }

    /** A URI that names this store in messages, e.g. {@code file:///backups/repo}. */
    String uri();

    /**
     * Creates the bucket or container this store keeps its objects in, when it does not exist ({@code repo-init
     * --create}): true when it created one, false when it was there. Stores without one (local disk) create their
     * root directory.
     */
    default boolean createContainer() throws IOException {
        throw new UnsupportedOperationException(uri() + " cannot create its container");
    }

    /**
     * Whether this store only reads (a replication region opened for a restore, drill or check): readers then take no
     * lock and no replay lease in it, since a region's only writer is the replicator and its credentials here may
     * read and list only.
     */
    default boolean readOnly() {
        return false;
    }

    @Override
    default void close() throws IOException {}
}
