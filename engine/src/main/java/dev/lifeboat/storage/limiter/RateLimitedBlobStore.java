package dev.lifeboat.storage.limiter;

import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.ForwardingBlobStore;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;

/**
 * Keeps one store's traffic within {@link RateLimits}: every call takes a request token first; uploads take their bytes
 * before they are sent, downloads of known length (ranges) before, others (whole objects, streams) as they arrive.
 * Used for backup, restore and replication alike (a region's {@code bandwidth} is a limit on its store). Waits end
 * early, with an {@link java.io.InterruptedIOException}, when {@code stop} says so or the thread is interrupted.
 */
public final class RateLimitedBlobStore extends ForwardingBlobStore {
    private final TokenBucket upload;
    private final TokenBucket download;
    private final TokenBucket requests;
    private final BooleanSupplier stop;

    public RateLimitedBlobStore(BlobStore delegate, RateLimits limits, BooleanSupplier stop) {
        this(delegate, limits, stop, System::nanoTime);
    }

    RateLimitedBlobStore(BlobStore delegate, RateLimits limits, BooleanSupplier stop, LongSupplier nanoClock) {
        super(delegate);
        this.upload = bucket(limits.uploadBytesPerSecond(), nanoClock);
        this.download = bucket(limits.downloadBytesPerSecond(), nanoClock);
        this.requests = bucket(limits.requestsPerSecond(), nanoClock);
        this.stop = stop;
    }

    /** {@code store} itself when {@code limits} limit nothing. */
    public static BlobStore wrap(BlobStore store, RateLimits limits, BooleanSupplier stop) {
        return limits.unlimited() ? store : new RateLimitedBlobStore(store, limits, stop);
    }

    private static TokenBucket bucket(long rate, LongSupplier nanoClock) {
        return rate > 0 ? new TokenBucket(rate, nanoClock) : null;
    }

    private void take(TokenBucket bucket, long n) throws IOException {
        if (bucket != null) {
            bucket.take(n, stop);
        }
    }

    private void request() throws IOException {
        take(requests, 1);
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        request();
        take(upload, length);
        delegate().put(key, data, offset, length);
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        request();
        take(upload, data.length);
        return delegate().putIfAbsent(key, data);
    }

    @Override
    public boolean holdsExactly(String key, byte[] data) throws IOException {
        request();
        take(download, data.length);
        return delegate().holdsExactly(key, data);
    }

    @Override
    public byte[] get(String key) throws IOException {
        request();
        byte[] data = delegate().get(key);
        take(download, data.length);
        return data;
    }

    @Override
    public byte[] getRange(String key, long offset, int length) throws IOException {
        request();
        take(download, length);
        return delegate().getRange(key, offset, length);
    }

    @Override
    public InputStream open(String key) throws IOException {
        request();
        return new LimitedStream(delegate().open(key));
    }

    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        request();
        return delegate().stat(key);
    }

    @Override
    public List<BlobInfo> list(String prefix) throws IOException {
        request();
        return delegate().list(prefix);
    }

    @Override
    public void delete(String key) throws IOException {
        request();
        delegate().delete(key);
    }

    /** Pays for each read once it has arrived, so a slow reader is never charged for bytes it did not take. */
    private final class LimitedStream extends FilterInputStream {
        LimitedStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                take(download, 1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                take(download, n);
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = super.skip(n);
            take(download, skipped);
            return skipped;
        }
    }
}
