package dev.lifeboat.storage.retry;

import dev.lifeboat.common.Backoff;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.ForwardingBlobStore;
import dev.lifeboat.storage.TransientStoreException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Repeats an operation that failed with a {@link TransientStoreException} (an unavailable or throttling service, a
 * broken or stalled connection), waiting as {@link Backoff} says; any other failure, a missing object included, is
 * thrown at once. Every operation of {@link BlobStore} may be repeated: writes replace an object with the same bytes,
 * a conditional create is checked with {@link BlobStore#holdsExactly}, deletes of a missing object succeed. A stream
 * from {@link #open} is retried only while it is being opened; a read that fails later is the reader's to handle.
 */
public final class RetryingBlobStore extends ForwardingBlobStore {
    private static final Logger log = LoggerFactory.getLogger(RetryingBlobStore.class);

    private final Backoff backoff;
    private final BooleanSupplier stop;

    /** {@code stop}: no further attempt once it says so (a cancelled operation), nor after an interrupt. */
    public RetryingBlobStore(BlobStore delegate, Backoff backoff, BooleanSupplier stop) {
        super(delegate);
        this.backoff = backoff;
        this.stop = () -> stop.getAsBoolean() || Thread.currentThread().isInterrupted();
    }

    @FunctionalInterface
    private interface Attempt<T> {
        T run(int attempt) throws IOException;
    }

    private <T> T retry(String what, String key, Attempt<T> op) throws IOException {
        Backoff.Attempts attempts = backoff.start();
        while (true) {
            try {
                return op.run(attempts.failures() + 1);
            } catch (TransientStoreException e) {
                boolean again;
                try {
                    again = attempts.pause(stop);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    var io = new InterruptedIOException("interrupted while retrying " + what + " " + key);
                    io.initCause(e);
                    throw io;
                }
                if (!again) {
                    throw e;
                }
                log.debug(
                        "{} {} in {} failed (attempt {}), retrying: {}",
                        what,
                        key,
                        delegate().uri(),
                        attempts.failures(),
                        e.getMessage());
            }
        }
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        retry("put", key, attempt -> {
            delegate().put(key, data, offset, length);
            return null;
        });
    }

    /**
     * A create whose answer was lost may have succeeded: a later attempt is then refused as "exists", and the stored
     * bytes tell whether it was this call's own object.
     */
    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        return retry(
                "put-if-absent",
                key,
                attempt -> delegate().putIfAbsent(key, data)
                        || (attempt > 1 && delegate().holdsExactly(key, data)));
    }

    @Override
    public boolean holdsExactly(String key, byte[] data) throws IOException {
        return retry("compare", key, attempt -> delegate().holdsExactly(key, data));
    }

    @Override
    public byte[] get(String key) throws IOException {
        return retry("get", key, attempt -> delegate().get(key));
    }

    @Override
    public byte[] getRange(String key, long offset, int length) throws IOException {
        return retry("get range of", key, attempt -> delegate().getRange(key, offset, length));
    }

    @Override
    public InputStream open(String key) throws IOException {
        return retry("open", key, attempt -> delegate().open(key));
    }

    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        return retry("stat", key, attempt -> delegate().stat(key));
    }

    @Override
    public List<BlobInfo> list(String prefix) throws IOException {
        return retry("list", prefix, attempt -> delegate().list(prefix));
    }

    @Override
    public void delete(String key) throws IOException {
        retry("delete", key, attempt -> {
            delegate().delete(key);
            return null;
        });
    }
}
