package dev.lifeboat.storage.readonly;

import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.ForwardingBlobStore;
import java.io.IOException;
import java.time.Duration;

/**
 * A store that reads and never writes: a replication region opened for a restore, drill or check. A region is the
 * replicator's copy of the primary, often write-once, and the credentials a restore host holds for it may read and
 * list only; so readers take no lock and no replay lease there ({@link BlobStore#readOnly()}), and any write that
 * still reaches this store fails at once, naming the store and the object, instead of leaving an object the region's
 * retention may keep for years.
 */
public final class ReadOnlyBlobStore extends ForwardingBlobStore {
    private final String why;

    /** @param why why it is read-only, e.g. {@code "region dr is read-only for restores, drills and checks"} */
    public ReadOnlyBlobStore(BlobStore delegate, String why) {
        super(delegate);
        this.why = why;
    }

    @Override
    public boolean readOnly() {
        return true;
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        throw refused("write", key);
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        throw refused("create", key);
    }

    @Override
    public void delete(String key) throws IOException {
        throw refused("delete", key);
    }

    @Override
    public int removeStaleTemporaryFiles(Duration olderThan) {
        return 0;
    }

    @Override
    public boolean createContainer() throws IOException {
        throw refused("create the container of", "");
    }

    private ReadOnlyStoreException refused(String what, String key) {
        return new ReadOnlyStoreException(
                "refused to " + what + " " + uri() + (key.isEmpty() ? "" : "/" + key) + ": " + why);
    }

    /** A write to a read-only store: a bug in the command, never a reason to retry. */
    public static final class ReadOnlyStoreException extends IOException {
        public ReadOnlyStoreException(String message) {
            super(message);
        }
    }
}
