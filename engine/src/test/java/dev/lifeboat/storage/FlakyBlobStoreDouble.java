package dev.lifeboat.storage;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test double: a store that fails its next calls with a transient failure, then behaves as the store it wraps. With
 * {@link #loseAnswers}, a failing write is carried out first and only its answer is lost, as when a connection
 * breaks after the server stored the object.
 */
public final class FlakyBlobStoreDouble implements BlobStore {
    private final BlobStore real;
    private final AtomicInteger failuresLeft = new AtomicInteger();
    private final AtomicInteger calls = new AtomicInteger();
    private volatile boolean loseAnswers;
    private volatile boolean permanent;

    public FlakyBlobStoreDouble(BlobStore real) {
        this.real = real;
    }

    public FlakyBlobStoreDouble failNext(int n) {
        failuresLeft.set(n);
        return this;
    }

    public FlakyBlobStoreDouble loseAnswers() {
        loseAnswers = true;
        return this;
    }

    /** The failures are permanent ones (a refused credential), not transient. */
    public FlakyBlobStoreDouble failPermanently() {
        permanent = true;
        return this;
    }

    public int calls() {
        return calls.get();
    }

    private void maybeFail(String what) throws IOException {
        calls.incrementAndGet();
        if (failuresLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            if (permanent) {
                throw new IOException("injected: " + what + " in " + uri() + " failed: AccessDenied (HTTP 403)");
            }
            throw new TransientStoreException("injected: " + what + " in " + uri() + " failed (HTTP 503)", null);
        }
    }

    private interface Write<T> {
        T run() throws IOException;
    }

    private <T> T write(String what, Write<T> op) throws IOException {
        if (loseAnswers && failuresLeft.get() > 0) {
            op.run();
        }
        maybeFail(what);
        return op.run();
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        write("put " + key, () -> {
            real.put(key, data, offset, length);
            return null;
        });
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        if (loseAnswers && failuresLeft.get() > 0) {
            real.putIfAbsent(key, data);
        }
        maybeFail("put-if-absent " + key);
        return real.putIfAbsent(key, data);
    }

    @Override
    public byte[] get(String key) throws IOException {
        maybeFail("get " + key);
        return real.get(key);
    }

    @Override
    public byte[] getRange(String key, long offset, int length) throws IOException {
        maybeFail("get range of " + key);
        return real.getRange(key, offset, length);
    }

    @Override
    public InputStream open(String key) throws IOException {
        maybeFail("open " + key);
        return real.open(key);
    }

    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        maybeFail("stat " + key);
        return real.stat(key);
    }

    @Override
    public List<BlobInfo> list(String prefix) throws IOException {
        maybeFail("list " + prefix);
        return real.list(prefix);
    }

    @Override
    public void delete(String key) throws IOException {
        write("delete " + key, () -> {
            real.delete(key);
            return null;
        });
    }

    @Override
    public String uri() {
        return real.uri();
    }
}
