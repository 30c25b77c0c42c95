package dev.lifeboat.cli.commands.wal;

import dev.lifeboat.cli.options.LoggingOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.engine.Engines;
import dev.lifeboat.engine.postgres.WalSources;
import dev.lifeboat.engine.postgres.WalSpool;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "wal-push",
        description = "Archive one WAL file (for archive_command = 'lifeboat wal-push --config FILE %%p'). "
                + "Exits 0 only once the file is durable in the repository. Refuses WAL of another cluster "
                + "than the one the "
                + "repository belongs to, and WAL of a timeline another cluster (e.g. the original of a "
                + "restored copy) archives.")
public final class WalPushCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Mixin
    LoggingOptions logging;

    @Parameters(
            index = "0",
            paramLabel = "WAL_PATH",
            description = "Path of the WAL file (relative to PGDATA, as %%p gives it).")
    Path walPath;

    @Option(
            names = "--pgdata",
            paramLabel = "DIR",
            description = "Data directory of the cluster the file comes from "
                    + "(default: the directory holding pg_wal/, or the working directory, which "
                    + "archive_command runs in).")
    Path pgdata;

    @Option(
            names = "--async",
            description = "Archive through a local spool: a background pusher archives ready segments "
                    + "in parallel ahead of PostgreSQL, and this command only waits for its marker (needs "
                    + "--spool-dir).")
    boolean async;

    @Option(
            names = "--spool-dir",
            paramLabel = "DIR",
            description = "Spool directory (one per cluster, on local disk). With it, a pusher that stays "
                    + "running answers later calls through the launcher without a JVM start per segment: "
                    + "the agent's (wal-push-spool), or one this command starts. Needed by --async.")
    Path spoolDir;

    @Option(
            names = "--process-max",
            defaultValue = "4",
            description = "Segments the background pusher archives at once. Default: ${DEFAULT-VALUE}.")
    int processMax;

    @Option(
            names = "--timeout",
            defaultValue = "120",
            description = "Seconds to wait for the background pusher. Default: ${DEFAULT-VALUE}.")
    int timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        repo.refuseFromRegion("wal-push");
        String name = walPath.getFileName().toString();
        if (!WalArchive.isWalFileName(name)) {
            throw new IllegalArgumentException(walPath + " is not a WAL segment, history or backup history file");
        }
        Path dataDir = WalSources.pgdataOf(walPath, pgdata);
        if (async) {
            if (spoolDir == null) {
                throw new IllegalArgumentException(
                        "--async needs --spool-dir DIR (a local directory for this cluster)");
            }
            Repository r = repo.open();
            WalSpool spool = new WalSpool(spoolDir).forRepository(WalSpool.identity(r, repo.replicationConfig()));
            offerSettings(spool, r, dataDir, true);
            spool.awaitPushed(walPath, dataDir, repo.forwardedArgs(), processMax, Duration.ofSeconds(timeoutSeconds));
            return 0;
        }
        Repository r = repo.open();
        // synchronous: a pusher that archives only what it is asked for serves the next calls; one started here
        // starts while this JVM archives the file, and is waited for (briefly) so the next call finds it serving
        WalSpool spool = spoolDir == null ? null : new WalSpool(spoolDir);
        boolean started = spool != null && offerSettings(spool, r, dataDir, false);
        WalArchive.PushResult res = Engines.postgresql().archiveWal(r, walPath, dataDir, "wal-push");
        if (logging.verbose()) {
            System.err.println(name + ": " + res);
        }
        if (started) {
            spool.awaitPusherServing(PUSHER_START_WAIT);
        }
        return 0;
    }

    /** How long a wal-push that started a pusher waits for it to serve; it archived its own file already. */
    private static final Duration PUSHER_START_WAIT = Duration.ofSeconds(5);

    /**
     * Has a pusher serve this cluster's next calls with these settings (the launcher's settings key, from
     * {@code LIFEBOAT_PUSH_KEY}). The file itself is archived (or waited for) either way, so a pusher that cannot
     * be started or told is a warning, not a failure: PostgreSQL would otherwise retry a file that is durable.
     */
    private boolean offerSettings(WalSpool spool, Repository r, Path dataDir, boolean readAhead) {
        try {
            return spool.startOrBindPusher(
                    walPath,
                    dataDir,
                    repo.forwardedArgs(),
                    processMax,
                    readAhead,
                    System.getenv(WalSpool.SETTINGS_KEY_ENV),
                    r,
                    repo.replicationConfig());
        } catch (IOException | RuntimeException e) {
            System.err.println("lifeboat wal-push: warning: the pusher of " + spoolDir
                    + " will not answer the next calls (each starts a JVM): " + e.getMessage());
            return false;
        }
    }
}
