package dev.lifeboat.replication;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JacksonException;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * A replicator's sign of life in the primary ({@code replication/<region>/heartbeat}, never replicated): written every
 * {@link #EVERY} while it runs, idle or copying, and once more when it exits. {@code replication status} reads it to
 * tell a live replicator from a requested state that nobody obeys, and to show a pass's progress while it runs.
 *
 * @param at         when the replicator wrote it (its own clock)
 * @param progress   the pass under way; null between passes
 * @param exitedAt   set when the replicator exited ({@code exitReason} says why); a crash leaves it null, and the
 *                   beat only grows old
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record Heartbeat(
        String host, long pid, Instant startedAt, Instant at, Progress progress, Instant exitedAt, String exitReason) {
    public static final Duration EVERY = Duration.ofSeconds(5);
    /** Six missed beats (object-store latency and modest clock skew between hosts included): gone. */
    public static final Duration ALIVE_WITHIN = Duration.ofSeconds(30);

    /**
     * A pass under way: what it found to copy when it listed both stores, and how far it got.
     *
     * @param etaSeconds the bytes left at the pass's average rate so far; null before the first byte
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Progress(
            Instant startedAt,
            long objectsTotal,
            long bytesTotal,
            long objectsDone,
            long bytesDone,
            double bytesPerSecond,
            Double etaSeconds) {
        static Progress of(
                Instant startedAt, long objectsTotal, long bytesTotal, long objectsDone, long bytesDone, Instant now) {
            double seconds = Math.max(Duration.between(startedAt, now).toMillis() / 1000.0, 1e-3);
            double rate = bytesDone / seconds;
            Double eta = bytesDone == 0 ? null : Math.max(0, bytesTotal - bytesDone) / rate;
            return new Progress(startedAt, objectsTotal, bytesTotal, objectsDone, bytesDone, rate, eta);
        }
    }

    /** Beating within {@link #ALIVE_WITHIN} of {@code now} and not exited. */
    public boolean alive(Instant now) {
        return exitedAt == null && at != null && Duration.between(at, now).compareTo(ALIVE_WITHIN) <= 0;
    }

    static String key(String region) {
        return Replicator.STATE_PREFIX + region + "/heartbeat";
    }

    void write(BlobStore primary, String region) throws IOException {
        primary.put(key(region), Json.MAPPER.writeValueAsBytes(this));
    }

    /** The region's last heartbeat; empty when no replicator ever ran (or its heartbeat is unreadable). */
    public static Optional<Heartbeat> read(BlobStore primary, String region) throws IOException {
        try {
            return Optional.of(Json.MAPPER.readValue(primary.get(key(region)), Heartbeat.class));
        } catch (BlobNotFoundException | JacksonException e) {
            return Optional.empty();
        }
    }
}
