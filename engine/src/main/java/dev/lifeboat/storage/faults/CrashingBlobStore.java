package dev.lifeboat.storage.faults;

import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.ForwardingBlobStore;
import java.io.IOException;

/**
 * Test hook: a store that halts the process at a chosen write boundary (see {@link CrashPoints}), so every repository
 * write of every operation (packs, index files, manifests, locks, WAL objects, deletions) is a crash point numbered
 * by the order of writes. {@code BlobStores.open} wraps a store in it only when a {@code LIFEBOAT_CRASH_*} variable
 * asks for it; reads pass straight through.
 */
public final class CrashingBlobStore extends ForwardingBlobStore {
    private final CrashPoints points;

    public CrashingBlobStore(BlobStore delegate, CrashPoints points) {
        super(delegate);
        this.points = points;
    }

    /** {@code store} itself unless this process's environment sets crash points for store writes. */
    public static BlobStore wrapIfRequested(BlobStore store) {
        CrashPoints p = CrashPoints.process();
        return p.watchesWrites() ? new CrashingBlobStore(store, p) : store;
    }

    /** The store this one wraps (public: callers may reach past the hook). */
    @Override
    public BlobStore delegate() {
        return super.delegate();
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        points.beforeWrite("put", key);
        String outcome = "failed";
        try {
            delegate().put(key, data, offset, length);
            outcome = "ok";
        } finally {
            points.afterWrite("put", key, outcome);
        }
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        points.beforeWrite("putIfAbsent", key);
        String outcome = "failed";
        try {
            boolean created = delegate().putIfAbsent(key, data);
            outcome = created ? "created" : "exists";
            return created;
        } finally {
            points.afterWrite("putIfAbsent", key, outcome);
        }
    }

    @Override
    public void delete(String key) throws IOException {
        points.beforeWrite("delete", key);
        String outcome = "failed";
        try {
            delegate().delete(key);
            outcome = "ok";
        } finally {
            points.afterWrite("delete", key, outcome);
        }
    }
}
