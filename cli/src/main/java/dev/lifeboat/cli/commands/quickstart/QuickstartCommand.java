package dev.lifeboat.cli.commands.quickstart;

import dev.lifeboat.cli.ExitCodeException;
import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.WorkDirOptions;
import dev.lifeboat.cli.output.ProgressDisplay;
import dev.lifeboat.cli.output.SignalCancellation;
import dev.lifeboat.cli.output.Sizes;
import dev.lifeboat.cli.output.ValidationReportPrinter;
import dev.lifeboat.engine.Engines;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgBackupOptions;
import dev.lifeboat.engine.postgres.PgRestore;
import dev.lifeboat.engine.postgres.PgValidator;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.SnapshotSummary;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Processes;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "quickstart",
        description = "Try the whole loop on a throwaway PostgreSQL: sample data, write load, "
                + "an online backup into a local encrypted repository, a restore, and a validation of the "
                + "restored copy.")
public final class QuickstartCommand implements Callable<Integer> {
    @Mixin
    OutputOptions output;

    @Mixin
    WorkDirOptions workDir;

    @Option(
            names = "--scale",
            defaultValue = "10",
            description = "pgbench scale of the sample data (10 ≈ 160 MB). Default: ${DEFAULT-VALUE}.")
    int scale;

    @Option(
            names = "--load-seconds",
            defaultValue = "20",
            description = "Seconds of pgbench write load running during the backup.")
    int loadSeconds;

    @Option(
            names = "--compress",
            defaultValue = "low",
            description = "Compression for the backup. Default: ${DEFAULT-VALUE}.")
    String compress;

    @Option(
            names = "--parallel",
            defaultValue = "2",
            description = "Parallel streams for backup and restore. Default: ${DEFAULT-VALUE}.")
    int parallel;

    @Option(names = "--no-validate", description = "Skip starting and checking the restored copy.")
    boolean noValidate;

    @Option(
            names = "--control-plane-seconds",
            defaultValue = "60",
            description = "Seconds to run an embedded controller and "
                    + "agent with a STANDARD-tier policy against the cluster before printing its RPO/RTO "
                    + "status (0 skips). Default: ${DEFAULT-VALUE}.")
    int controlPlaneSeconds;

    @Override
    public Integer call() throws Exception {
        try (SignalCancellation signal = output.cancelOnSignal()) {
            return run(signal);
        }
    }

    private int run(SignalCancellation signal) throws Exception {
        boolean json = output.json();
        Path work = workDir.create("lifeboat-quickstart");
        say("working in " + work);
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("directory", work.toString());
        try (LocalCluster pg = LocalCluster.create(work.resolve("cluster"), List.of())) {
            say("1/7 created a throwaway PostgreSQL cluster in " + pg.dataDir() + " (port " + pg.port() + ")");
            pg.start();
            pg.pgbench(List.of("-i", "-s", Integer.toString(scale), "--foreign-keys", "-q"), Duration.ofMinutes(30));
            long accounts = count(pg, "pgbench_accounts");
            say("2/7 loaded pgbench sample data at scale " + scale + " (" + accounts + " accounts, foreign keys on)");

            Path repoDir = work.resolve("repo");
            Path keyFile = work.resolve("lifeboat.key");
            LocalBlobStore store = new LocalBlobStore(repoDir);
            KeySource.KeyFile key = KeySource.KeyFile.create(keyFile);
            Repository.init(store, key, false);
            Repository repo = Repository.open(store, key);
            if (Processes.isRoot()) {
                // PostgreSQL runs restore_command and recovery_end_command as its own OS user (drills replay archived
                // WAL): as docs/operations.md has it, that user reads the key and writes the repository
                Processes.check(
                        List.of("chown", "-R", pg.osUser(), keyFile.toString(), repoDir.toString()),
                        Duration.ofSeconds(30));
            }
            say("3/7 created an encrypted repository at " + store.uri() + " (key file " + keyFile + ")");

            Process load = pg.pgbenchAsync(List.of("-c", "2", "-j", "2", "-T", Integer.toString(loadSeconds), "-n"));
            Thread.sleep(1000);
            long historyBefore = count(pg, "pgbench_history");
            Snapshot snap;
            try (ProgressDisplay progress = output.progress()) {
                snap = Engines.postgresql()
                        .backup(
                                repo,
                                new PgBackupOptions(
                                        pg.dataDir(),
                                        null,
                                        null,
                                        "postgres",
                                        "full",
                                        Compression.parse(compress),
                                        parallel),
                                progress,
                                signal.cancellation());
            }
            long historyAfter = count(pg, "pgbench_history");
            Snapshot.Stats st = snap.stats();
            say(String.format(
                    "4/7 backup %s taken while pgbench wrote (%d → %d history rows during it): %s read, %s stored, "
                            + "%.1f s (%.0f MiB/s)",
                    snap.id(),
                    historyBefore,
                    historyAfter,
                    Sizes.format(st.bytesRead()),
                    Sizes.format(st.bytesStored()),
                    st.seconds(),
                    st.bytesRead() / 1048576.0 / Math.max(0.001, st.seconds())));
            load.destroy();
            load.waitFor();

            Path restored = work.resolve("restored");
            PgRestore.Result rr;
            PgValidator.Report report = null;
            try (ProgressDisplay progress = output.progress()) {
                rr = Engines.postgresql()
                        .restore(
                                repo,
                                new PgRestore.Options(snap.id(), restored, parallel, null, null),
                                progress,
                                signal.cancellation());
                say(String.format(
                        "5/7 restored it to %s: %s in %.1f s (%.0f MiB/s)",
                        restored, Sizes.format(rr.bytes()), rr.seconds(), rr.bytesPerSecond() / 1048576.0));
                if (!noValidate) {
                    report = Engines.postgresql().validate(repo, rr, parallel, progress, signal.cancellation());
                }
            }
            summary.put("cluster", pg.dataDir().toString());
            summary.put("repository", store.uri());
            summary.put("keyFile", keyFile.toString());
            summary.put("backup", SnapshotSummary.of(snap));
            summary.put("restore", rr);
            if (report != null) {
                summary.put("validation", report);
                if (!json) {
                    say("6/7 validated the restored copy:");
                    ValidationReportPrinter.print(report);
                }
            }
            if (controlPlaneSeconds > 0) {
                summary.put(
                        "controlPlane",
                        QuickstartControlPlane.run(work, pg, store.uri(), keyFile, controlPlaneSeconds, json));
            }
            pg.stop();
            if (json) {
                output.printJson(summary);
            } else {
                System.out.println();
                System.out.println("Try it yourself:");
                System.out.println("  bin/lifeboat list --repo " + store.uri() + " --key-file " + keyFile);
                System.out.println(
                        "  bin/lifeboat verify --repo " + store.uri() + " --key-file " + keyFile + " --read-data");
                System.out.println(
                        "Everything lives in " + work + " (the servers are stopped); remove it with: rm -rf " + work);
            }
            if (report != null && !report.ok()) {
                throw new ExitCodeException(3, "validation failed: " + String.join("; ", report.problems()));
            }
        }
        return 0;
    }

    private void say(String s) {
        if (!output.json()) {
            System.out.println(s);
        }
    }

    private static long count(LocalCluster pg, String table) throws Exception {
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select count(*) from " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
