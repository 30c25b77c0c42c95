package dev.lifeboat.storage;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A store that passes every call on to the store it wraps, as Guava's {@code Forwarding*} classes do: the base of the
 * decorators of the store stack ({@code retry/}, {@code limiter/}, {@code metrics/}, {@code faults/}) and of
 * replication, each of which overrides only the calls it changes.
 * <p>
 * {@link #put(String, byte[])} is not forwarded: the interface's default calls {@link #put(String, byte[], int, int)}
 * on this store, so a decorator that overrides that one sees every put.
 */
public abstract class ForwardingBlobStore implements BlobStore {
    private final BlobStore delegate;

    protected ForwardingBlobStore(BlobStore delegate) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
    }

    /** The store every call not overridden goes to. */
    protected BlobStore delegate() {
        return delegate;
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        delegate.put(key, data, offset, length);
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        return delegate.putIfAbsent(key, data);
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
    public void delete(String key) throws IOException {
        delegate.delete(key);
    }

    @Override
    public int removeStaleTemporaryFiles(Duration olderThan) throws IOException {
        return delegate.removeStaleTemporaryFiles(olderThan);
    }

    @Override
    public boolean readOnly() {
        return delegate.readOnly();
    }

    @Override
    public String uri() {
        return delegate.uri();
    }

    @Override
    public boolean createContainer() throws IOException {
        return delegate.createContainer();
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }
}
