package dev.lifeboat.storage.metrics;

import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.ForwardingBlobStore;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Records every call on a store, tagged by backend ({@code s3}, {@code file}, …) and operation ({@code get},
 * {@code put}, …): {@value #OPERATIONS} (a timer: count and latency, with {@code outcome} = {@code ok},
 * {@code not_found} or {@code error}), {@value #ERRORS} (failed calls; a missing object is an answer, not an error)
 * and {@value #BYTES} (bytes sent or received; a stream's as they are read). Placed inside the retry layer, so every
 * attempt is recorded.
 */
public final class MeteredBlobStore extends ForwardingBlobStore {
    public static final String OPERATIONS = "lifeboat.store.operations";
    public static final String ERRORS = "lifeboat.store.errors";
    public static final String BYTES = "lifeboat.store.bytes";

    private final MeterRegistry registry;
    private final String backend;
    private final ConcurrentMap<String, Counter> bytes = new ConcurrentHashMap<>();
    /** Looked up once per operation and outcome: every chunk read of a restore passes here. */
    private final ConcurrentMap<String, Timer> timers = new ConcurrentHashMap<>();

    public MeteredBlobStore(BlobStore delegate, MeterRegistry registry, String backend) {
        super(delegate);
        this.registry = registry;
        this.backend = backend;
    }

    @FunctionalInterface
    private interface Call<T> {
        T run() throws IOException;
    }

    private <T> T record(String operation, Call<T> call) throws IOException {
        long start = System.nanoTime();
        String outcome = "error";
        try {
            T result = call.run();
            outcome = "ok";
            return result;
        } catch (BlobNotFoundException e) {
            outcome = "not_found";
            throw e;
        } finally {
            String o = outcome;
            timers.computeIfAbsent(
                            operation + '/' + o,
                            k -> Timer.builder(OPERATIONS)
                                    .description("Calls on a store, by backend, operation and outcome")
                                    .tags("backend", backend, "operation", operation, "outcome", o)
                                    .register(registry))
                    .record(Duration.ofNanos(System.nanoTime() - start));
            if (outcome.equals("error")) {
                Counter.builder(ERRORS)
                        .description("Failed calls on a store (each attempt of a retried one)")
                        .tags("backend", backend, "operation", operation)
                        .register(registry)
                        .increment();
            }
        }
    }

    private void countBytes(String operation, long n) {
        if (n > 0) {
            bytes.computeIfAbsent(
                            operation,
                            op -> Counter.builder(BYTES)
                                    .baseUnit("bytes")
                                    .description("Bytes sent to or received from a store")
                                    .tags("backend", backend, "operation", op)
                                    .register(registry))
                    .increment(n);
        }
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        record("put", () -> {
            delegate().put(key, data, offset, length);
            return null;
        });
        countBytes("put", length);
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        boolean created = record("putIfAbsent", () -> delegate().putIfAbsent(key, data));
        countBytes("putIfAbsent", data.length);
        return created;
    }

    @Override
    public boolean holdsExactly(String key, byte[] data) throws IOException {
        return record("holdsExactly", () -> delegate().holdsExactly(key, data));
    }

    @Override
    public byte[] get(String key) throws IOException {
        byte[] data = record("get", () -> delegate().get(key));
        countBytes("get", data.length);
        return data;
    }

    @Override
    public byte[] getRange(String key, long offset, int length) throws IOException {
        byte[] data = record("getRange", () -> delegate().getRange(key, offset, length));
        countBytes("getRange", data.length);
        return data;
    }

    @Override
    public InputStream open(String key) throws IOException {
        return new CountingStream(record("open", () -> delegate().open(key)));
    }

    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        return record("stat", () -> delegate().stat(key));
    }

    @Override
    public List<BlobInfo> list(String prefix) throws IOException {
        return record("list", () -> delegate().list(prefix));
    }

    @Override
    public void delete(String key) throws IOException {
        record("delete", () -> {
            delegate().delete(key);
            return null;
        });
    }

    private final class CountingStream extends FilterInputStream {
        CountingStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                countBytes("open", 1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            countBytes("open", n);
            return n;
        }
    }
}
