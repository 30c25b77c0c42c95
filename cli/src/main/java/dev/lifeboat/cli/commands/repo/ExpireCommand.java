package dev.lifeboat.cli.commands.repo;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.cli.output.Sizes;
import dev.lifeboat.repository.Expirer;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RetentionPolicy;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "expire",
        description = {
            "Apply the retention policy: delete expired backups, the archived WAL that no kept "
                    + "backup, the PITR window (on any timeline) or a running recovery (replay lease) needs, and the "
                    + "data only expired "
                    + "backups used (repacking packs that are less than half in use).",
            "Never runs during a backup, restore or verify. A value of 0 disables a rule; the newest backup is always "
                    + "kept."
        })
public final class ExpireCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    RepoOptions repo;

    @Mixin
    OutputOptions output;

    @Option(
            names = "--keep-full",
            defaultValue = "5",
            paramLabel = "N",
            description = "Keep the newest N full backups. Default: ${DEFAULT-VALUE}.")
    int keepFull;

    @Option(
            names = "--keep-daily",
            defaultValue = "7",
            paramLabel = "N",
            description =
                    "Keep the newest backup of each of the last N days (UTC) that have one. Default: ${DEFAULT-VALUE}.")
    int keepDaily;

    @Option(
            names = "--keep-weekly",
            defaultValue = "4",
            paramLabel = "N",
            description =
                    "Keep the newest backup of each of the last N ISO weeks that have one. Default: ${DEFAULT-VALUE}.")
    int keepWeekly;

    @Option(
            names = "--keep-monthly",
            defaultValue = "12",
            paramLabel = "N",
            description =
                    "Keep the newest backup of each of the last N months that have one. Default: ${DEFAULT-VALUE}.")
    int keepMonthly;

    @Option(
            names = "--pitr-window",
            defaultValue = "72h",
            paramLabel = "DURATION",
            converter = DurationConverter.class,
            description =
                    "Keep what point-in-time recovery to any moment of the last DURATION needs (e.g. 72h, 3d, 90m; 0 = "
                            + "off). "
                            + "Default: ${DEFAULT-VALUE}.")
    Duration pitrWindow;

    @Option(
            names = "--replay-lease-ttl",
            defaultValue = "24h",
            paramLabel = "DURATION",
            converter = DurationConverter.class,
            description =
                    "A replay lease (a recovery replaying archived WAL) not renewed for this long is stale: its WAL is "
                            + "no longer kept and the lease is deleted. Default: ${DEFAULT-VALUE}.")
    Duration replayLeaseTtl;

    @Option(names = "--dry-run", description = "Only report what would be kept and deleted.")
    boolean dryRun;

    @Override
    public Integer call() throws Exception {
        if (keepFull < 0 || keepDaily < 0 || keepWeekly < 0 || keepMonthly < 0) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(),
                    "--keep-full, --keep-daily, --keep-weekly and --keep-monthly must be 0 or more");
        }
        RetentionPolicy policy = new RetentionPolicy(keepFull, keepDaily, keepWeekly, keepMonthly, pitrWindow);
        repo.refuseFromRegion("expire");
        Repository r = repo.open();
        if (replayLeaseTtl.isZero()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--replay-lease-ttl must be more than 0");
        }
        Expirer.Result res = new Expirer(r, Clock.systemUTC(), replayLeaseTtl).expire(policy, dryRun);
        if (output.json()) {
            output.printJson(res);
            return 0;
        }
        String verb = dryRun ? "would delete" : "deleted";
        System.out.printf("policy: %s%s%n", res.policy(), dryRun ? " (dry run: nothing is deleted)" : "");
        System.out.printf("keeping %d backup(s):%n", res.kept().size());
        for (Map.Entry<String, List<String>> e : res.kept().entrySet()) {
            System.out.printf("  %-22s %s%n", e.getKey(), String.join(", ", e.getValue()));
        }
        if (res.expired().isEmpty()) {
            System.out.println("no backup expires");
        } else {
            System.out.printf(
                    "%s %d backup(s):%n",
                    dryRun ? "would expire" : "expired", res.expired().size());
            for (String id : res.expired()) {
                System.out.printf("  %s%n", id);
            }
        }
        if (res.walKeptFrom() != null && res.walKeptFromByTimeline().size() <= 1) {
            System.out.printf(
                    "WAL: %s %d archived file(s) before %s%n",
                    verb, res.walDeleted().size(), res.walKeptFrom());
        } else if (res.walKeptFrom() != null) {
            // per timeline: a timeline's WAL may go entirely, whatever its segment numbers
            System.out.printf(
                    "WAL: %s %d archived file(s) no kept backup or recovery needs; kept:%n",
                    verb, res.walDeleted().size());
            res.walKeptFromByTimeline()
                    .forEach((t, first) -> System.out.printf(
                            "  timeline %d: %s%n",
                            t,
                            first == null ? "none (no kept backup or recovery lies on its history)" : "from " + first));
        } else {
            System.out.printf("WAL: none deleted (%s)%n", res.walNote());
        }
        for (String k : res.walKeptForRecoveries()) {
            System.out.printf("WAL %s%n", k);
        }
        for (String l : res.replayLeasesDeleted()) {
            System.out.printf("%s stale replay lease: %s%n", dryRun ? "would delete" : "deleted", l);
        }
        System.out.printf(
                "data: %s %d unreferenced pack(s), %s %d partly used pack(s) into %d; %d pack(s) kept as they are%n",
                verb,
                res.packsDeleted(),
                dryRun ? "would repack" : "repacked",
                res.packsRepacked(),
                res.packsWritten(),
                res.packsKept());
        System.out.printf("%s %s%n", dryRun ? "would free" : "freed", Sizes.format(res.bytesFreed()));
        return 0;
    }

    /** {@code 72h}, {@code 3d}, {@code 90m}, {@code 0}, … (see {@link RetentionPolicy#parseDuration}). */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            try {
                return RetentionPolicy.parseDuration(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
