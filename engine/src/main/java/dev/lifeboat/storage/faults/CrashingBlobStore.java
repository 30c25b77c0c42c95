package dev.lifeboat.storage.faults;

import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobStore;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * Test hook: a store that halts the process at a chosen write boundary (see {@link CrashPoints}), so every repository
 * write of every operation (packs, index files, manifests, locks, WAL objects, deletions) is a crash point numbered
 * by the order of writes. {@code BlobStores.open} wraps a store in it only when a {@code LIFEBOAT_CRASH_*} variable
 * asks for it; reads pass straight through.
 */
public final class CrashingBlobStore implements BlobStore {
    private final BlobStore delegate;
    private final CrashPoints points;

    public CrashingBlobStore(BlobStore delegate, CrashPoints points) {
        this.delegate = delegate;
        this.points = points;
    }

    /** {@code store} itself unless this process's environment sets crash points for store writes. */
    public static BlobStore wrapIfRequested(BlobStore store) {
        CrashPoints p = CrashPoints.process();
        return p.watchesWrites() ? new CrashingBlobStore(store, p) : store;
    }

    public BlobStore delegate() {
        return delegate;
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        points.beforeWrite("put", key);
        String outcome = "failed";
        try {
            delegate.put(key, data, offset, length);
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
            boolean created = delegate.putIfAbsent(key, data);
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
            delegate.delete(key);
            outcome = "ok";
        } finally {
            points.afterWrite("delete", key, outcome);
        }
    }

    @Override
    public boolean holdsExactly(String key, byte[] data) throws IOException {
        return delegate.holdsExactly(key, data);
    }

    @Override
    public byte[] get(String key) throws IOException {
        return delegate.get(key);
    }

    @Override
    public byte[] getRange(String key, long offset, int length) throws IOException {
        return delegate.getRange(key, offset, length);
    }

    @Override
    public InputStream open(String key) throws IOException {
        return delegate.open(key);
    }

    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        return delegate.stat(key);
    }

    @Override
    public List<BlobInfo> list(String prefix) throws IOException {
        return delegate.list(prefix);
    }

    @Override
    public String uri() {
        return delegate.uri();
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }

    @Override
    public int removeStaleTemporaryFiles(Duration olderThan) throws IOException {
        return delegate.removeStaleTemporaryFiles(olderThan);
    }
}
