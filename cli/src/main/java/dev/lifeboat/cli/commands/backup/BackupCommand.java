package dev.lifeboat.cli.commands.backup;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.PgServerOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.cli.output.ProgressDisplay;
import dev.lifeboat.cli.output.SignalCancellation;
import dev.lifeboat.cli.output.Sizes;
import dev.lifeboat.engine.Engines;
import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.engine.postgres.PgBackupOptions;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.SnapshotSummary;
import dev.lifeboat.repository.compress.Compression;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "backup", description = "Take an online backup of a running PostgreSQL cluster.")
public final class BackupCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Mixin
    PgServerOptions server;

    @Mixin
    OutputOptions output;

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

    @Override
    public Integer call() throws Exception {
        repo.refuseFromRegion("backup");
        Compression compression = Compression.parse(compress);
        Repository r = repo.open();
        Snapshot s;
        try (SignalCancellation signal = output.cancelOnSignal();
                ProgressDisplay progress = output.progress()) {
            s = Engines.postgresql()
                    .backup(
                            r,
                            new PgBackupOptions(
                                    server.requirePgdata(),
                                    server.pghost(),
                                    server.pgport(),
                                    server.pguser(),
                                    type,
                                    compression,
                                    parallel),
                            progress,
                            signal.cancellation());
        }
        if (output.json()) {
            output.printJson(SnapshotSummary.of(s));
        } else {
            Snapshot.Stats st = s.stats();
            System.out.printf(
                    "%s backup %s complete: %s read, %s new, %s stored in %.1f s (%.1f MiB/s); LSN %s → %s, timeline "
                            + "%s%n",
                    s.type(),
                    s.id(),
                    Sizes.format(st.bytesRead()),
                    Sizes.format(st.bytesNew()),
                    Sizes.format(st.bytesStored()),
                    st.seconds(),
                    st.bytesRead() / 1048576.0 / Math.max(0.001, st.seconds()),
                    Lsn.format(s.engineInfo().startLsn()),
                    Lsn.format(s.engineInfo().stopLsn()),
                    s.engineInfo().timeline());
        }
        return 0;
    }
}
