package dev.lifeboat.cli;

import dev.lifeboat.engine.Engines;
import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.engine.postgres.PgBackupOptions;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.util.Json;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "backup", description = "Take an online backup of a running PostgreSQL cluster.")
final class BackupCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Mixin
    PgServerOptions server;

    @Option(
            names = "--type",
            defaultValue = "full",
            description = "full; incr (reads only files changed since the newest "
                    + "backup, stores only new chunks); diff (the same against the newest full). Every backup "
                    + "restores on its own.")
    String type;

    @Option(
            names = "--compress",
            defaultValue = "low",
            paramLabel = "LEVEL",
            description = "none, low (zstd-1), medium (zstd-3), high (zstd-9) or lz4. Default: ${DEFAULT-VALUE}.")
    String compress;

    @Option(
            names = "--parallel",
            defaultValue = "2",
            description = "Files read and compressed in parallel. Default: ${DEFAULT-VALUE}.")
    int parallel;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Option(
            names = {"-q", "--quiet"},
            description = "No progress output.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        Compression compression = Compression.parse(compress);
        Repository r = repo.open();
        Cancellation cancel = new Cancellation();
        Thread hook = new Thread(() -> cancel.cancel("interrupted by signal"));
        Runtime.getRuntime().addShutdownHook(hook);
        Snapshot s;
        try (ProgressDisplay progress = new ProgressDisplay(quiet || json)) {
            s = Engines.postgresql()
                    .backup(
                            r,
                            new PgBackupOptions(
                                    server.requirePgdata(),
                                    server.pghost,
                                    server.pgport,
                                    server.pguser,
                                    type,
                                    compression,
                                    parallel),
                            progress,
                            cancel);
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // shutting down
            }
        }
        if (json) {
            System.out.println(Json.pretty(ListCommand.summary(s)));
        } else {
            Snapshot.Stats st = s.stats();
            System.out.printf(
                    "%s backup %s complete: %s read, %s new, %s stored in %.1f s (%.1f MiB/s); LSN %s → %s, timeline "
                            + "%s%n",
                    s.type(),
                    s.id(),
                    ListCommand.size(st.bytesRead()),
                    ListCommand.size(st.bytesNew()),
                    ListCommand.size(st.bytesStored()),
                    st.seconds(),
                    st.bytesRead() / 1048576.0 / Math.max(0.001, st.seconds()),
                    Lsn.format(s.engineInfo().startLsn()),
                    Lsn.format(s.engineInfo().stopLsn()),
                    s.engineInfo().timeline());
        }
        return 0;
    }
}
