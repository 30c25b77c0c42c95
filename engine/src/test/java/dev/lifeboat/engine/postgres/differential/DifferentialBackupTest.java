package dev.lifeboat.engine.postgres.differential;

import static dev.lifeboat.engine.postgres.differential.DiffCluster.setting;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

/**
 * Backup chains judged against PostgreSQL itself: a seeded workload, a chain of backups of the quiesced source, and
 * after each one its restore compared with the source (pg_dump, pg_amcheck, visibility map, index-only scans, index
 * probes, unlogged tables, large objects, materialized views).
 *
 * <p>By default a fixed-seed slice sized for CI. Settings (system property {@code lifeboat.differential.NAME} or
 * environment variable {@code LIFEBOAT_DIFFERENTIAL_NAME}; {@code bin/differential} sets them):
 * {@code long} (true: random seeds, longer chains, more data), {@code compression} (low, lz4, …: the backups'),
 * {@code seeds} (comma-separated), {@code randomSeeds} (how many
 * with {@code long}, default 3), {@code chain}, {@code steps}, {@code rows}, {@code skip} and {@code dropBackups}
 * (replay a
 * shrunk run), {@code keep} (never, failure, always), {@code shrink} (true: shrink the first failing seed to
 * its first failing backup, or to the first whose findings contain {@code shrinkMatch}), {@code shrinkMinutes}, {@code
 * control} (false: skip the full-backups-only control).
 */
class DifferentialBackupTest {
    /** The CI slice: one seed, a chain with every backup type, small data. */
    static final long CI_SEED = 1;

    static final String CI_CHAIN = "full,incr,incr,diff,incr,incr";
    static final String LONG_CHAIN = "full,incr,incr,diff,incr,incr,incr,diff,incr,full,incr,diff,incr";

    private static boolean longMode() {
        return Boolean.parseBoolean(setting("long", "false"));
    }

    @Test
    void everyRestoreOfABackupChainEqualsItsQuiescedSource() throws Exception {
        List<String> failures = new ArrayList<>();
        for (long seed : seeds()) {
            DifferentialRun.Settings s = settings(seed, setting("chain", longMode() ? LONG_CHAIN : CI_CHAIN));
            DifferentialRun.Result r = DifferentialRun.run(s, System.out::println);
            String report = r.report();
            Path file = writeReport(r, "chain");
            System.out.println(report);
            if (r.failed()) {
                String msg = report + "full log: " + file.toAbsolutePath() + "\n";
                if (Boolean.parseBoolean(setting("shrink", "false")) && failures.isEmpty()) {
                    DifferentialRun.Settings small = DifferentialRun.shrink(
                            r,
                            setting("shrinkMatch", ""),
                            Double.parseDouble(setting("shrinkMinutes", "30")),
                            System.out::println);
                    List<Workload.Step> kept = DifferentialRun.plan(small).stream()
                            .flatMap(List::stream)
                            .filter(x -> !small.skip().contains(x.index()))
                            .toList();
                    StringBuilder sb = new StringBuilder("shrunk reproduction (" + small.replay() + "):\n");
                    kept.forEach(x -> sb.append("    before backup #")
                            .append(x.round())
                            .append(' ')
                            .append(x)
                            .append('\n'));
                    msg += sb;
                }
                failures.add(msg);
            }
        }
        if (!failures.isEmpty()) {
            fail("restores differ from their source:\n\n" + String.join("\n\n", failures));
        }
    }

    /**
     * The control for false alarms: with full backups only (no incrementals) the same comparisons must find nothing.
     * A finding here is the harness's or PostgreSQL's, not the incremental logic's.
     */
    @Test
    void fullBackupsOnlyEqualTheirSource() throws Exception {
        if (!Boolean.parseBoolean(setting("control", "true"))) {
            return;
        }
        List<String> failures = new ArrayList<>();
        for (long seed : seeds()) {
            DifferentialRun.Settings s =
                    settings(seed + 1000, longMode() ? "full,full,full,full,full" : "full,full,full");
            DifferentialRun.Result r = DifferentialRun.run(s, System.out::println);
            Path file = writeReport(r, "control");
            System.out.println(r.report());
            if (r.failed()) {
                failures.add(r.report() + "full log: " + file.toAbsolutePath());
            }
        }
        if (!failures.isEmpty()) {
            fail("restores of FULL backups differ from their source (harness false alarm, or a defect outside "
                    + "incrementals):\n\n"
                    + String.join("\n\n", failures));
        }
    }

    private static DifferentialRun.Settings settings(long seed, String chain) {
        boolean lng = longMode();
        return new DifferentialRun.Settings(
                seed,
                DifferentialRun.parseChain(chain),
                Integer.parseInt(setting("steps", lng ? "60" : "22")),
                Integer.parseInt(setting("rows", lng ? "20000" : "300")),
                DifferentialRun.parseRanges(setting("skip", "")),
                DifferentialRun.parseRanges(setting("dropBackups", "")),
                null,
                DiffCluster.keepPolicy());
    }

    /** {@code seeds} if given; else the CI seed, or with {@code long} as many random ones as {@code randomSeeds} says.
     * */
    private static List<Long> seeds() {
        String v = setting("seeds", "");
        List<Long> out = new ArrayList<>();
        if (!v.isEmpty()) {
            for (String x : v.split(",")) {
                out.add(Long.parseLong(x.strip()));
            }
        } else if (longMode()) {
            for (int i = 0; i < Integer.parseInt(setting("randomSeeds", "3")); i++) {
                out.add(ThreadLocalRandom.current().nextLong(1, 1_000_000_000L));
            }
        } else {
            out.add(CI_SEED);
        }
        return Collections.unmodifiableList(out);
    }

    private static Path writeReport(DifferentialRun.Result r, String kind) throws IOException {
        Path dir = Path.of(setting("reportDir", "target/differential"));
        Files.createDirectories(dir);
        Path file = dir.resolve(kind + "-seed-" + r.settings().seed() + ".log");
        StringBuilder sb = new StringBuilder();
        r.log().forEach(l -> sb.append(l).append('\n'));
        sb.append("\n").append(r.report());
        sb.append("\nplanned steps (").append(r.planned().size()).append("):\n");
        Set<Integer> skip = r.settings().skip();
        r.planned()
                .forEach(x -> sb.append(skip.contains(x.index()) ? "  (skipped) " : "  ")
                        .append("before backup #")
                        .append(x.round())
                        .append(' ')
                        .append(x)
                        .append('\n'));
        Files.writeString(file, sb.toString());
        return file;
    }
}
