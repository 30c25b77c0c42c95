package dev.lifeboat.storage.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.local.LocalBlobStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MeteredBlobStoreTest {
    @TempDir
    Path dir;

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    private long count(String operation, String outcome) {
        var t = registry.find(MeteredBlobStore.OPERATIONS)
                .tags("backend", "file", "operation", operation, "outcome", outcome)
                .timer();
        return t == null ? 0 : t.count();
    }

    private double bytes(String operation) {
        var c = registry.find(MeteredBlobStore.BYTES)
                .tags("backend", "file", "operation", operation)
                .counter();
        return c == null ? 0 : c.count();
    }

    private double errors(String operation) {
        var c = registry.find(MeteredBlobStore.ERRORS)
                .tags("backend", "file", "operation", operation)
                .counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void recordsCountsBytesAndOutcomesPerOperation() throws IOException {
        BlobStore store = new MeteredBlobStore(new LocalBlobStore(dir), registry, "file");
        store.put("a", new byte[100]);
        store.put("b", new byte[50]);
        assertThat(store.putIfAbsent("a", new byte[1])).isFalse();
        assertThat(store.get("a")).hasSize(100);
        assertThat(store.getRange("a", 10, 20)).hasSize(20);
        try (InputStream in = store.open("b")) {
            in.readAllBytes();
        }
        store.stat("a");
        store.list("");
        store.delete("b");
        assertThatThrownBy(() -> store.get("missing")).isInstanceOf(BlobNotFoundException.class);
        assertThatThrownBy(() -> store.getRange("a", 90, 20)).isInstanceOf(IOException.class);

        assertThat(count("put", "ok")).isEqualTo(2);
        assertThat(bytes("put")).isEqualTo(150);
        assertThat(count("putIfAbsent", "ok")).isEqualTo(1);
        assertThat(count("get", "ok")).isEqualTo(1);
        assertThat(count("get", "not_found")).as("an answer, not an error").isEqualTo(1);
        assertThat(errors("get")).isZero();
        assertThat(bytes("get")).isEqualTo(100);
        assertThat(count("getRange", "ok")).isEqualTo(1);
        assertThat(count("getRange", "error")).isEqualTo(1);
        assertThat(errors("getRange")).isEqualTo(1);
        assertThat(bytes("getRange")).isEqualTo(20);
        assertThat(count("open", "ok")).isEqualTo(1);
        assertThat(bytes("open")).as("counted as the stream is read").isEqualTo(50);
        assertThat(count("stat", "ok")).isEqualTo(1);
        assertThat(count("list", "ok")).isEqualTo(1);
        assertThat(count("delete", "ok")).isEqualTo(1);
        var put = registry.find(MeteredBlobStore.OPERATIONS)
                .tags("operation", "put", "outcome", "ok")
                .timer();
        assertThat(put.totalTime(TimeUnit.NANOSECONDS)).as("latency").isPositive();
    }
}
