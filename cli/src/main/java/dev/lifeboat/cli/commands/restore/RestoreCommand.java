package dev.lifeboat.cli.commands.restore;

import dev.lifeboat.cli.ExitCodeException;
import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.cli.output.ProgressDisplay;
import dev.lifeboat.cli.output.SignalCancellation;
import dev.lifeboat.cli.output.Sizes;
import dev.lifeboat.cli.output.ValidationReportPrinter;
import dev.lifeboat.engine.Engines;
import dev.lifeboat.engine.postgres.PgRestore;
import dev.lifeboat.engine.postgres.PgValidator;
import dev.lifeboat.engine.postgres.RecoveryCatalog;
import dev.lifeboat.engine.postgres.RecoveryTarget;
import dev.lifeboat.repository.Repository;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "restore",
        description = "Restore a backup into an empty directory, optionally proving it works (--validate).")
public final class RestoreCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Mixin
    OutputOptions output;

    @Option(
            names = "--backup",
            defaultValue = "latest",
            paramLabel = "ID",
            description = "Backup id (or unique prefix), or latest.")
    String backup;

    @Option(
            names = "--target",
            paramLabel = "DIR",
            description = "Empty or new directory to restore into (required unless --plan).")
    Path target;

    @Option(
            names = "--plan",
            description = "Restore nothing: say which backup the restore would start from, how far the archive "
                    + "reaches, and which WAL (segments, bytes) it would replay.")
    boolean plan;

    @Option(
            names = "--parallel",
            defaultValue = "2",
            description = "Parallel restore streams. Default: ${DEFAULT-VALUE}.")
    int parallel;

    @Option(
            names = "--validate",
            description = "Start PostgreSQL on the restored copy and check it (file digests, amcheck, "
                    + "pg_visibility, empty unlogged tables, row counts, foreign keys); exit 3 if anything fails.")
    boolean validate;

    @Option(
            names = "--tablespace-map",
            paramLabel = "OID|NAME=DIR",
            description = "Restore a tablespace somewhere else than its original location.")
    Map<String, Path> tablespaceMap;

    @Option(
            names = "--owner",
            paramLabel = "USER",
            description = "Owner of restored files when run as root (default: the backed-up cluster's owner).")
    String owner;

    @Option(
            names = "--to-time",
            paramLabel = "ISO-8601",
            description = "Recover to this time (e.g. 2026-11-24T14:03:27Z).")
    String toTime;

    @Option(names = "--to-lsn", paramLabel = "LSN", description = "Recover to this WAL location.")
    String toLsn;

    @Option(names = "--to-xid", paramLabel = "XID", description = "Recover to this transaction.")
    String toXid;

    @Option(names = "--to-name", paramLabel = "NAME", description = "Recover to this named restore point.")
    String toName;

    @Option(
            names = "--to-latest",
            description = "Replay all archived (and streamed) WAL: recover as far as the archive reaches.")
    boolean toLatest;

    @Option(names = "--exclusive", description = "Stop just before the target instead of just after it.")
    boolean exclusive;

    @Option(
            names = "--timeline",
            paramLabel = "T|latest|current",
            description = "Timeline to recover along (default: latest).")
    String timeline;

    @Option(
            names = "--archive-mode",
            defaultValue = "off",
            paramLabel = "off|preserve",
            description = "off (default): the "
                    + "restored copy does not archive WAL (archive_mode = off in its postgresql.auto.conf), so it can "
                    + "never write "
                    + "into its source's archive; preserve: keep the source's archiving settings (for a copy that "
                    + "replaces a lost "
                    + "source). Either way the copy ends on a new timeline.")
    PgRestore.ArchiveMode archiveMode;

    @Override
    public Integer call() throws Exception {
        Repository r = repo.open();
        RecoveryTarget rt = recoveryTarget();
        if (plan) {
            return printPlan(RecoveryCatalog.plan(r, rt, backup));
        }
        if (target == null) {
            throw new IllegalArgumentException("--target DIR is required (or --plan to restore nothing)");
        }
        PgRestore.Result result;
        PgValidator.Report report = null;
        try (SignalCancellation signal = output.cancelOnSignal();
                ProgressDisplay progress = output.progress()) {
            result = Engines.postgresql()
                    .restore(
                            r,
                            new PgRestore.Options(
                                    backup,
                                    target,
                                    parallel,
                                    tablespaceMap,
                                    owner,
                                    rt,
                                    repo.forwardedArgs(),
                                    archiveMode),
                            progress,
                            signal.cancellation());
            if (!output.json()) {
                System.out.printf(
                        "restored backup %s to %s: %d files, %s in %.1f s (%.1f MiB/s)%n",
                        result.backupId(),
                        result.target(),
                        result.files(),
                        Sizes.format(result.bytes()),
                        result.seconds(),
                        result.bytesPerSecond() / 1048576.0);
                System.out.printf(
                        "recovery to %s on timeline %d is configured (recovery.signal, restore_command)%s; "
                                + "when started, PostgreSQL recovers and promotes the copy to a new timeline%s%n",
                        result.recoveryTarget(),
                        result.targetTimeline(),
                        rt == null ? "" : "; archived WAL reaches " + result.recoverableUntil(),
                        archiveMode == PgRestore.ArchiveMode.OFF
                                ? " (archive_mode = off: it will not archive WAL)"
                                : "");
                if (result.historyNote() != null) {
                    System.out.println("note: latest " + result.historyNote());
                }
            }
            if (validate) {
                report = Engines.postgresql().validate(r, result, parallel, progress, signal.cancellation());
            }
        }
        if (output.json()) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("restore", result);
            if (report != null) {
                out.put("validation", report);
                out.put("ok", report.ok());
            }
            output.printJson(out);
        } else if (report != null) {
            ValidationReportPrinter.print(report);
        }
        if (report != null && !report.ok()) {
            throw new ExitCodeException(
                    3, "validation of " + target + " failed: " + String.join("; ", report.problems()));
        }
        return 0;
    }

    private int printPlan(RecoveryCatalog.Plan p) {
        if (output.json()) {
            output.printJson(p);
            return 0;
        }
        System.out.printf(
                "restore to %s: from backup %s (%s, ended %s, %s to restore) on timeline %d%n",
                p.target(),
                p.backup(),
                p.backupType(),
                p.backupStopTime(),
                Sizes.format(p.restoreBytes()),
                p.timeline());
        System.out.printf(
                "WAL to replay: %d segments (%s), %s .. %s%s%n",
                p.walSegments(),
                Sizes.format(p.walBytes()),
                p.firstSegment(),
                p.lastSegment(),
                p.stopLsn() == null ? "" : "; recovery stops at " + p.stopLsn());
        System.out.println("the archive reaches " + p.recoverableUntil() + " on this timeline");
        if (p.historyNote() != null) {
            System.out.println("note: latest " + p.historyNote());
        }
        return 0;
    }

    private RecoveryTarget recoveryTarget() {
        int n = (toTime != null ? 1 : 0)
                + (toLsn != null ? 1 : 0)
                + (toXid != null ? 1 : 0)
                + (toName != null ? 1 : 0)
                + (toLatest ? 1 : 0);
        if (n > 1) {
            throw new IllegalArgumentException(
                    "give at most one of --to-time, --to-lsn, --to-xid, --to-name, --to-latest");
        }
        if (toLatest) {
            if (exclusive) {
                throw new IllegalArgumentException("--exclusive does not apply to --to-latest");
            }
            return RecoveryTarget.latest(timeline);
        }
        if (n == 0) {
            if (exclusive || timeline != null) {
                throw new IllegalArgumentException(
                        "--exclusive and --timeline need a recovery target (--to-time, --to-lsn, --to-xid or "
                                + "--to-name)");
            }
            return null;
        }
        var kind = toTime != null
                ? RecoveryTarget.Kind.TIME
                : toLsn != null
                        ? RecoveryTarget.Kind.LSN
                        : toXid != null ? RecoveryTarget.Kind.XID : RecoveryTarget.Kind.NAME;
        String value = toTime != null ? toTime : toLsn != null ? toLsn : toXid != null ? toXid : toName;
        return new RecoveryTarget(kind, value, exclusive, timeline);
    }
}
