package dev.lifeboat.cli.commands.wal;

import dev.lifeboat.cli.options.LoggingOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.engine.postgres.WalSpool;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "wal-spool-worker",
        hidden = true,
        description = "Background pusher/fetcher started by wal-push --async and wal-get --prefetch.")
public final class WalSpoolWorkerCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Mixin
    LoggingOptions logging;

    @Option(names = "--role", required = true, description = "push or get")
    String role;

    @Option(names = "--spool-dir", required = true)
    Path spoolDir;

    @Option(names = "--pg-wal", required = true)
    Path pgWal;

    @Option(names = "--pgdata", description = "Data directory of the cluster (default: the parent of --pg-wal).")
    Path pgdata;

    @Option(names = "--process-max", defaultValue = "4")
    int processMax;

    @Option(names = "--idle-seconds", defaultValue = "30")
    int idleSeconds;

    @Option(
            names = "--read-ahead",
            defaultValue = "true",
            arity = "1",
            description = "push: also archive ready segments before they are asked for (false: only requests).")
    boolean readAhead;

    @Option(names = "--lease", description = "A restore's replay lease the fetcher renews while it fetches.")
    String lease;

    @Option(names = "--last", description = "get: fetch no segment after this one (wal-get --last).")
    String last;

    @Override
    public Integer call() throws Exception {
        WalSpool spool = new WalSpool(spoolDir);
        if (spool.isLocked(role)) {
            return 0; // one runs already; its own lock check would say so only after the repository is open
        }
        if (role.equals("push")) {
            Path dataDir = pgdata != null ? pgdata : pgWal.toAbsolutePath().getParent();
            // the settings key of the wal-push that started this pusher (inherited environment) is served at once
            spool.runPusher(
                    repo.open(),
                    pgWal,
                    dataDir,
                    processMax,
                    Duration.ofSeconds(idleSeconds),
                    new WalSpool.Serving(
                            repo.replicationConfig(), System.getenv(WalSpool.SETTINGS_KEY_ENV), readAhead, true));
        } else {
            spool.runFetcher(repo.open(), processMax, Duration.ofSeconds(idleSeconds), lease, last);
        }
        return 0;
    }
}
