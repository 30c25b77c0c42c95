package dev.lifeboat.agent;

import dev.lifeboat.common.Backoff;
import dev.lifeboat.common.Durations;
import dev.lifeboat.engine.postgres.PgConnections;
import dev.lifeboat.engine.postgres.WalReceiver;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.repository.Repository;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * WAL_STREAM: {@code lifeboat wal-stream}, until cancelled. The receiver reconnects to the server by itself; when
 * the stream cannot even be set up (server down, repository unreachable) the job retries with backoff (1 s doubling
 * to 60 s) instead of failing. Only errors retrying cannot fix (another cluster behind the data directory) end it
 * FAILED. Params: {@code slot} (default lifeboat), {@code name} (application_name, default lifeboat),
 * {@code flush_interval} (default 1s), {@code flush_mode} (auto, immediate, interval). Progress: connects and
 * disconnects at once, otherwise a status report every 10 s. Cancelling ends it CANCELLED with its final status.
 */
final class WalStreamJob implements JobExecutor {
    private static final Duration MAX_BACKOFF = Duration.ofMinutes(1);

    @Override
    public Prepared prepare(JobRequest request, AgentConfig.Database db, AgentConfig config) {
        JobParams p = new JobParams(
                "WAL_STREAM", request.getParamsMap(), Set.of("slot", "name", "flush_interval", "flush_mode"));
        if (db.pgdata() == null && db.pghost() == null) {
            throw new IllegalArgumentException("WAL_STREAM: database " + db.name()
                    + " has neither pgdata nor pghost in the " + "agent config, so there is no server to stream from");
        }
        WalReceiver.FlushMode mode;
        try {
            mode = WalReceiver.FlushMode.valueOf(p.string("flush_mode", "auto").toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw p.error("flush_mode", "must be auto, immediate or interval");
        }
        Duration flush;
        try {
            flush = Durations.parse(p.string("flush_interval", "1s"));
        } catch (IllegalArgumentException e) {
            throw p.error("flush_interval", e.getMessage());
        }
        WalReceiver.Options opts;
        try {
            opts = new WalReceiver.Options(p.string("slot", "lifeboat"), p.string("name", "lifeboat"), flush, mode);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("WAL_STREAM: "
                    + e.getMessage()
                            .replace("--slot", "slot")
                            .replace("--name", "name")
                            .replace("--flush-interval", "flush_interval"));
        }
        return ctx -> {
            ctx.progressInterval(Duration.ofSeconds(10));
            ProgressListener events = e -> {
                String m = e.message() == null ? "" : e.message();
                if (m.startsWith("streaming from") || m.startsWith("connection lost")) {
                    ctx.milestone(e);
                } else {
                    ctx.progress().onProgress(e);
                }
            };
            Backoff.Attempts setup =
                    Backoff.exponential(Duration.ofSeconds(1), MAX_BACKOFF).start();
            while (true) {
                WalReceiver receiver;
                PgConnections conns;
                Repository repo;
                try {
                    conns = ctx.connections();
                    repo = ctx.openRepository();
                    receiver = new WalReceiver(repo, conns, db.pgdata(), opts, events, ctx.cancellation());
                } catch (Exception e) {
                    if (ctx.cancellation().isCancelled()) {
                        throw JobOutcomeException.cancelled("the stream had not started", null);
                    }
                    ctx.message(
                            "wal-stream",
                            "cannot start streaming: " + JobManager.describe(e) + "; retrying in about "
                                    + setup.nextDelay().toSeconds() + " s");
                    setup.pause(ctx.cancellation()::isCancelled);
                    continue;
                }
                setup.reset();
                WalReceiver.Status s = receiver.run();
                if (ctx.cancellation().isCancelled()) {
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("summary", s.describe());
                    out.put("status", s);
                    throw JobOutcomeException.cancelled(s.describe(), out);
                }
            }
        };
    }
}
