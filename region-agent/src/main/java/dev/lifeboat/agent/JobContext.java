package dev.lifeboat.agent;

import dev.lifeboat.engine.postgres.PgConnections;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressEvent;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.storage.BlobStore;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * What a running job gets from the agent: its request and database, a cancel flag, a progress listener that turns
 * engine progress into job events (throttled), and the database's repository and server, opened as the CLI opens
 * them.
 */
final class JobContext {
    /** Receives the job's progress events (the manager numbers, journals and publishes them). */
    interface Sink {
        void progress(String phase, ProgressEvent e);
    }

    private final JobRequest request;
    private final AgentConfig.Database database;
    private final AgentConfig config;
    private final Cancellation cancel;
    private final Sink sink;
    private final LongConsumer bytesCounter;

    // throttling state, guarded by this
    private long intervalNanos = 1_000_000_000L;
    private String lastPhase;
    private long lastEmitNanos;
    private boolean phaseDoneEmitted;
    private String countedPhase;
    private long countedBytes;

    JobContext(
            JobRequest request,
            AgentConfig.Database database,
            AgentConfig config,
            Cancellation cancel,
            Sink sink,
            LongConsumer bytesCounter) {
        this.request = request;
        this.database = database;
        this.config = config;
        this.cancel = cancel;
        this.sink = sink;
        this.bytesCounter = bytesCounter;
    }

    String jobId() {
        return request.getJobId();
    }

    JobRequest request() {
        return request;
    }

    AgentConfig.Database database() {
        return database;
    }

    AgentConfig config() {
        return config;
    }

    Cancellation cancellation() {
        return cancel;
    }

    /** At most one progress event per {@code d} within a phase (phase changes always go out). Default 1 s. */
    synchronized void progressInterval(Duration d) {
        intervalNanos = d.toNanos();
    }

    /** Engine progress, throttled: phase changes and a phase's completion always go out, otherwise one per interval. */
    ProgressListener progress() {
        return e -> onProgress(e, false);
    }

    /** Reports an event now, whatever the throttle says (e.g. a WAL stream that connected or lost its server). */
    void milestone(ProgressEvent e) {
        onProgress(e, true);
    }

    /** A short status line as a progress event of {@code phase}. */
    void message(String phase, String text) {
        onProgress(new ProgressEvent(phase, "", 0, -1, 0, -1, 0, null, Instant.now(), text), true);
    }

    private void onProgress(ProgressEvent e, boolean force) {
        String phase = e.phase() == null || e.phase().isEmpty() ? e.operation() : e.operation() + "/" + e.phase();
        boolean emit;
        synchronized (this) {
            if (!phase.equals(countedPhase)) {
                countedPhase = phase;
                countedBytes = 0;
            }
            long delta = e.bytesDone() - countedBytes;
            if (delta > 0) {
                countedBytes = e.bytesDone();
                bytesCounter.accept(delta);
            }
            long now = System.nanoTime();
            boolean phaseChange = !phase.equals(lastPhase);
            if (phaseChange) {
                phaseDoneEmitted = false;
            }
            // done only when every count that has a total reached it: files may grow while read, so the bytes can
            // pass their total while files remain, and the phase's last event must not be throttled away then
            boolean done = (e.bytesTotal() > 0 || e.filesTotal() > 0)
                    && (e.bytesTotal() <= 0 || e.bytesDone() >= e.bytesTotal())
                    && (e.filesTotal() <= 0 || e.filesDone() >= e.filesTotal());
            emit = force || phaseChange || now - lastEmitNanos >= intervalNanos || (done && !phaseDoneEmitted);
            if (emit) {
                lastPhase = phase;
                lastEmitNanos = now;
                phaseDoneEmitted |= done;
            }
        }
        if (emit) {
            sink.progress(phase, e);
        }
    }

    BlobStore openStore() {
        return DatabaseAccess.openStore(database);
    }

    Repository openRepository() throws IOException {
        return DatabaseAccess.openRepository(database);
    }

    PgConnections connections() throws IOException {
        return DatabaseAccess.connections(database);
    }

    /** The repository arguments a restored server's restore_command passes to {@code lifeboat wal-get}. */
    List<String> walGetArgs() {
        return walGetArgs(database.repo(), true);
    }

    /**
     * The same for the repository at {@code repoUri}; {@code withRegions}: also the database's replication config (so
     * wal-get may fall back to its regions). A drill from a region passes neither the primary nor the other regions.
     */
    List<String> walGetArgs(String repoUri, boolean withRegions) {
        List<String> out = new ArrayList<>(List.of("--repo", repoUri));
        if (withRegions && database.replication() != null) {
            out.add("--replication");
            out.add(database.replication().toAbsolutePath().toString());
        }
        if (database.keyFile() != null) {
            out.add("--key-file");
            out.add(database.keyFile().toAbsolutePath().toString());
        }
        return out;
    }

    /**
     * The same for a drill from {@code region} of the database's replication config: that region alone, with its own
     * store settings ({@code --from-region}), neither the primary nor the other regions.
     */
    List<String> walGetArgsFromRegion(String region) {
        List<String> out = new ArrayList<>(
                List.of("--replication", database.replication().toAbsolutePath().toString(), "--from-region", region));
        if (database.keyFile() != null) {
            out.add("--key-file");
            out.add(database.keyFile().toAbsolutePath().toString());
        }
        return out;
    }

    Path workDir(String kind) {
        return config.stateDir().resolve(kind).resolve(jobId());
    }
}
