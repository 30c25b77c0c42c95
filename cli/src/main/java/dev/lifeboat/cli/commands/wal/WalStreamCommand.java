package dev.lifeboat.cli.commands.wal;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.PgServerOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.cli.output.SignalCancellation;
import dev.lifeboat.common.Durations;
import dev.lifeboat.engine.postgres.PgConnections;
import dev.lifeboat.engine.postgres.WalReceiver;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "wal-stream",
        description = "Stream WAL from a running server into the repository with the replication "
                + "protocol (like pg_receivewal): the archive lags the server by about --flush-interval, and by "
                + "nothing for commits "
                + "when --name is listed in synchronous_standby_names. Runs until SIGTERM or Ctrl-C.")
public final class WalStreamCommand implements Callable<Integer> {
    /** On SIGTERM the receiver writes what it holds to the repository before the JVM exits: at most this long. */
    private static final Duration STOP_GRACE = Duration.ofSeconds(60);

    @Mixin
    RepoOptions repo;

    @Mixin
    PgServerOptions server;

    @Mixin
    OutputOptions output;

    @Option(
            names = "--slot",
            defaultValue = "lifeboat",
            paramLabel = "NAME",
            description =
                    "Physical replication slot (created if missing; drop it when you stop streaming for good, or the "
                            + "server keeps all WAL). Default: ${DEFAULT-VALUE}.")
    String slot;

    @Option(
            names = "--name",
            defaultValue = "lifeboat",
            paramLabel = "APPLICATION_NAME",
            description =
                    "Name the server sees; list it in synchronous_standby_names for RPO 0. Default: ${DEFAULT-VALUE}.")
    String name;

    @Option(
            names = "--flush-interval",
            defaultValue = "1s",
            paramLabel = "DURATION",
            description =
                    "Longest time received WAL waits before it is durable in the repository (e.g. 500ms, 1s, 2s). "
                            + "Default: ${DEFAULT-VALUE}.")
    String flushInterval;

    @Option(
            names = "--flush-mode",
            defaultValue = "auto",
            paramLabel = "MODE",
            description =
                    "auto (write as soon as the stream is idle when listed in synchronous_standby_names), immediate, "
                            + "or interval. Default: ${DEFAULT-VALUE}.")
    WalReceiver.FlushMode flushMode;

    @Option(
            names = "--status-interval",
            defaultValue = "10",
            paramLabel = "SECONDS",
            description =
                    "Print a status line this often (0: only connects and disconnects). Default: ${DEFAULT-VALUE}.")
    int statusInterval;

    @Override
    public Integer call() throws Exception {
        repo.refuseFromRegion("wal-stream");
        WalReceiver.Options opts = new WalReceiver.Options(slot, name, Durations.parse(flushInterval), flushMode);
        PgConnections conns = server.connections();
        Repository r = repo.open();
        try (SignalCancellation signal = output.cancelOnSignal("stopped by signal", STOP_GRACE)) {
            stream(opts, conns, r, signal.cancellation());
        }
        return 0;
    }

    private void stream(WalReceiver.Options opts, PgConnections conns, Repository r, Cancellation cancel)
            throws Exception {
        // status lines on stderr unless --quiet; with --json only the final status, on stdout
        boolean quiet = output.quiet() || output.json();
        // with --pgdata the receiver reads the restore marker itself; else it asks the server (pg_read_file)
        WalReceiver receiver = new WalReceiver(
                r,
                conns,
                server.pgdata(),
                opts,
                e -> {
                    // connects and disconnects as they happen; the status line comes from the timer below
                    if (!quiet
                            && e.message() != null
                            && (e.message().startsWith("streaming from")
                                    || e.message().startsWith("connection lost"))) {
                        System.err.println("wal-stream: " + e.message());
                    }
                },
                cancel);
        Thread status = null;
        if (!quiet && statusInterval > 0) {
            status = Thread.ofPlatform().daemon().name("wal-stream-status").start(() -> {
                while (!cancel.isCancelled()) {
                    try {
                        Thread.sleep(statusInterval * 1000L);
                    } catch (InterruptedException e) {
                        return;
                    }
                    if (!cancel.isCancelled()) {
                        WalReceiver.Status s = receiver.status();
                        System.err.println("wal-stream: " + s.describe()
                                + (s.lastFlush() == null ? "" : ", last write " + s.lastFlush()));
                    }
                }
            });
        }
        if (!quiet) {
            System.err.println(
                    "wal-stream: streaming from " + conns.describe() + " into " + r.uri() + " (slot " + slot + ", name "
                            + name + ", flush interval " + opts.flushInterval().toMillis() + " ms)");
        }
        try {
            WalReceiver.Status s = receiver.run();
            if (output.json()) {
                output.printJson(s);
            } else if (!quiet) {
                System.err.println("wal-stream: stopped: " + s.describe());
            }
        } finally {
            if (status != null) {
                status.interrupt();
            }
        }
    }
}
