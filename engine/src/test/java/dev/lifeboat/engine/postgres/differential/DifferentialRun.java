package dev.lifeboat.engine.postgres.differential;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * One differential run: a seeded workload on a source cluster, a chain of backups taken while it is quiesced, and
 * after each backup its restore compared with the source.
 */
final class DifferentialRun {
    /**
     * @param chain        backup types, one per round: the workload plans one round of {@code steps} steps before each
     * @param skip         planned steps not run (shrinking); a step that then fails is passed over
     * @param dropBackups  chain positions whose backup is not taken (their round's steps run before the next one)
     * @param compareOnly  chain positions whose restore is compared (null: all)
     */
    record Settings(
            long seed,
            List<String> chain,
            int steps,
            int rows,
            Set<Integer> skip,
            Set<Integer> dropBackups,
            Set<Integer> compareOnly,
            String keep) {
        Settings {
            chain = List.copyOf(chain);
            skip = Set.copyOf(skip);
            dropBackups = Set.copyOf(dropBackups);
        }

        Settings withSkip(Set<Integer> s) {
            return new Settings(seed, chain, steps, rows, s, dropBackups, compareOnly, keep);
        }

        Settings upTo(int lastBackup, Set<Integer> drop) {
            // shrinking trials keep nothing: there are dozens
            return new Settings(
                    seed, chain.subList(0, lastBackup + 1), steps, rows, skip, drop, Set.of(lastBackup), "never");
        }

        /** The command that replays this run. */
        String replay() {
            StringBuilder sb = new StringBuilder("bin/differential --seed " + seed + " --chain "
                    + String.join(",", chain) + " --steps " + steps + " --rows " + rows);
            if (!skip.isEmpty()) {
                sb.append(" --skip ").append(ranges(skip));
            }
            if (!dropBackups.isEmpty()) {
                sb.append(" --drop-backups ").append(ranges(dropBackups));
            }
            return sb.toString();
        }
    }

    /** What the comparison after one backup found (an exception in backup or restore is a finding too). */
    record BackupOutcome(
            int position,
            String type,
            String id,
            String parent,
            List<ClusterComparator.Finding> findings,
            String checked,
            double seconds,
            List<Workload.Step> stepsBefore) {}

    record Result(
            Settings settings,
            List<BackupOutcome> backups,
            List<Workload.Step> planned,
            List<String> log,
            List<Path> kept) {
        boolean failed() {
            return backups.stream().anyMatch(b -> !b.findings().isEmpty());
        }

        BackupOutcome firstFailure() {
            return backups.stream()
                    .filter(b -> !b.findings().isEmpty())
                    .findFirst()
                    .orElse(null);
        }

        /** A failure message an engineer can start fixing from. */
        String report() {
            StringBuilder sb = new StringBuilder();
            List<String> taken = new ArrayList<>();
            for (BackupOutcome b : backups) {
                taken.add("#" + b.position() + " " + b.type() + " " + b.id()
                        + (b.parent() == null ? "" : " (parent " + b.parent() + ")"));
            }
            sb.append("differential run, seed ")
                    .append(settings.seed())
                    .append(", chain ")
                    .append(settings.chain())
                    .append(", ")
                    .append(settings.steps())
                    .append(" steps a round, ~")
                    .append(settings.rows())
                    .append(" rows an insert\n");
            sb.append("backups taken: ").append(String.join("; ", taken)).append('\n');
            for (BackupOutcome b : backups) {
                sb.append("after backup #")
                        .append(b.position())
                        .append(" (")
                        .append(b.type())
                        .append(' ')
                        .append(b.id())
                        .append("): ");
                if (b.findings().isEmpty()) {
                    sb.append("restore equals the source (").append(b.checked()).append(")\n");
                } else {
                    sb.append(b.findings().size()).append(" findings\n");
                    b.findings().stream()
                            .limit(40)
                            .forEach(f -> sb.append("  - ").append(f).append('\n'));
                    if (b.findings().size() > 40) {
                        sb.append("  - … ").append(b.findings().size() - 40).append(" more\n");
                    }
                }
            }
            BackupOutcome first = firstFailure();
            if (first != null) {
                sb.append("workload steps since the backup before #")
                        .append(first.position())
                        .append(" (the rest is in the log):\n");
                first.stepsBefore().stream()
                        .limit(60)
                        .forEach(s ->
                                sb.append("    ").append(clip(s.toString())).append('\n'));
            }
            sb.append("replay: ").append(settings.replay()).append('\n');
            if (!kept.isEmpty()) {
                sb.append("kept for inspection: ").append(kept).append('\n');
            }
            return sb.toString();
        }
    }

    private DifferentialRun() {}

    /** The planned rounds: setup plus one round before each chain position. */
    static List<List<Workload.Step>> plan(Settings s) {
        Workload w = new Workload(s.seed(), s.rows());
        List<List<Workload.Step>> rounds = new ArrayList<>();
        for (int i = 0; i < s.chain().size(); i++) {
            List<Workload.Step> r = new ArrayList<>(i == 0 ? w.setup() : List.of());
            r.addAll(w.round(i, s.steps()));
            rounds.add(r);
        }
        return rounds;
    }

    static Result run(Settings s, Consumer<String> out) throws Exception {
        List<String> log = new ArrayList<>();
        Consumer<String> logger = line -> {
            log.add(line);
            out.accept(line);
        };
        List<List<Workload.Step>> rounds = plan(s);
        List<BackupOutcome> outcomes = new ArrayList<>();
        List<Path> kept = new ArrayList<>();
        Path work = DiffCluster.workDir("differential-" + s.seed());
        boolean keepSource = s.keep().equals("always");
        logger.accept("work directory " + work);
        try {
            Repository repo = DiffCluster.newRepository(work);
            try (LocalCluster source = DiffCluster.createSource(work.resolve("source"))) {
                String ts = source.tablespaceDir("ts1-location").toString();
                List<Workload.Step> since = new ArrayList<>();
                for (int i = 0; i < s.chain().size(); i++) {
                    logger.accept("-- round " + i);
                    Workload.execute(source, rounds.get(i), ts, s.skip(), logger);
                    rounds.get(i).stream()
                            .filter(x -> !s.skip().contains(x.index()))
                            .forEach(since::add);
                    if (s.dropBackups().contains(i)) {
                        logger.accept("-- backup #" + i + " not taken");
                        continue;
                    }
                    long t0 = System.nanoTime();
                    Snapshot snap = DiffCluster.backup(repo, source, s.chain().get(i));
                    logger.accept("-- backup #" + i + ": " + snap.type() + " " + snap.id()
                            + (snap.parent() == null ? "" : " parent " + snap.parent()));
                    List<Workload.Step> before = List.copyOf(since);
                    since.clear();
                    if (s.compareOnly() != null && !s.compareOnly().contains(i)) {
                        continue;
                    }
                    Path base = work.resolve("restore-" + i);
                    List<ClusterComparator.Finding> findings = new ArrayList<>();
                    String checked = "";
                    try (LocalCluster restored = DiffCluster.restoreAndStart(repo, snap, base)) {
                        ClusterComparator cmp = new ClusterComparator(source, restored, work);
                        findings.addAll(cmp.compare());
                        checked = ClusterComparator.describe(cmp.checked());
                    } catch (Exception | AssertionError e) {
                        findings.add(new ClusterComparator.Finding(
                                "(cluster)", null, "restore", "restoring or comparing failed: " + e));
                    }
                    double secs = (System.nanoTime() - t0) / 1e9;
                    outcomes.add(new BackupOutcome(
                            i, snap.type(), snap.id(), snap.parent(), findings, checked, secs, before));
                    logger.accept(String.format(
                            "-- backup #%d compared in %.1f s: %s",
                            i, secs, findings.isEmpty() ? "equal (" + checked + ")" : findings.size() + " findings"));
                    findings.forEach(f -> logger.accept("   " + f));
                    if (s.keep().equals("always")
                            || (!findings.isEmpty() && s.keep().equals("failure"))) {
                        kept.add(base);
                        keepSource = true;
                    } else {
                        DiffCluster.deleteTree(base);
                    }
                }
            }
        } finally {
            if (keepSource) {
                kept.addFirst(work.resolve("source"));
                logger.accept("kept " + work + " (source in source/, restores in restore-N/, repository in repo/)");
            } else {
                DiffCluster.deleteTree(work);
            }
        }
        List<Workload.Step> planned = rounds.stream().flatMap(List::stream).toList();
        return new Result(s, outcomes, planned, log, kept);
    }

    /**
     * Shrinks a failing run: keeps only the backups up to the first failing one, then leaves out steps (halves,
     * quarters, … single steps) and backups in between while the restore of that backup still fails the same check.
     * Every trial is a full run, so this takes minutes; {@code budgetMinutes} bounds it.
     */
    static Settings shrink(Result failed, String match, double budgetMinutes, Consumer<String> out) throws Exception {
        BackupOutcome f = match.isEmpty()
                ? failed.firstFailure()
                : failed.backups().stream()
                        .filter(b ->
                                b.findings().stream().anyMatch(x -> x.toString().contains(match)))
                        .findFirst()
                        .orElseThrow(() -> new IllegalArgumentException("no finding contains '" + match + "'"));
        // what must still be found: a finding of the same check, or one containing the text asked for
        Predicate<ClusterComparator.Finding> wanted;
        if (match.isEmpty()) {
            Set<String> checks =
                    f.findings().stream().map(ClusterComparator.Finding::check).collect(Collectors.toSet());
            wanted = x -> checks.contains(x.check());
        } else {
            wanted = x -> x.toString().contains(match);
        }
        long deadline = System.nanoTime() + (long) (budgetMinutes * 60e9);
        Settings best = failed.settings().upTo(f.position(), failed.settings().dropBackups());
        List<Integer> steps = plan(best).stream()
                .flatMap(List::stream)
                .map(Workload.Step::index)
                .filter(i -> !best.skip().contains(i))
                .toList();
        out.accept("shrinking: " + steps.size() + " steps, backups up to #" + f.position() + ", keeping "
                + f.findings().getFirst());
        List<Integer> keep = new ArrayList<>(steps);
        Settings cur = best;
        int trials = 0;
        for (int chunk = Math.max(1, keep.size() / 2); chunk >= 1 && System.nanoTime() < deadline; chunk /= 2) {
            for (int i = 0; i < keep.size() && System.nanoTime() < deadline; ) {
                List<Integer> trial = new ArrayList<>(keep);
                trial.subList(i, Math.min(i + chunk, trial.size())).clear();
                Settings t = cur.withSkip(complement(steps, trial, best.skip()));
                trials++;
                if (fails(t, wanted)) {
                    keep = trial;
                    cur = t;
                    out.accept("shrinking: " + keep.size() + " steps left (trial " + trials + ")");
                } else {
                    i += chunk;
                }
            }
            if (chunk == 1) {
                break;
            }
        }
        for (int b = f.position() - 1; b >= 1 && System.nanoTime() < deadline; b--) {
            Set<Integer> drop = new TreeSet<>(cur.dropBackups());
            drop.add(b);
            Settings t = new Settings(
                    cur.seed(), cur.chain(), cur.steps(), cur.rows(), cur.skip(), drop, cur.compareOnly(), cur.keep());
            trials++;
            if (fails(t, wanted)) {
                cur = t;
                out.accept("shrinking: backup #" + b + " is not needed");
            }
        }
        out.accept("shrunk to " + keep.size() + " steps in " + trials + " trials: " + cur.replay());
        return cur;
    }

    private static boolean fails(Settings t, Predicate<ClusterComparator.Finding> wanted) throws Exception {
        Result r = run(t, line -> {});
        return r.backups().stream().flatMap(b -> b.findings().stream()).anyMatch(wanted);
    }

    private static Set<Integer> complement(List<Integer> all, List<Integer> kept, Set<Integer> already) {
        Set<Integer> out = new TreeSet<>(already);
        Set<Integer> k = new LinkedHashSet<>(kept);
        all.stream().filter(i -> !k.contains(i)).forEach(out::add);
        return out;
    }

    /** "1,2,3,7" → "1-3,7" */
    static String ranges(Set<Integer> set) {
        List<Integer> l = new ArrayList<>(new TreeSet<>(set));
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < l.size(); ) {
            int j = i;
            while (j + 1 < l.size() && l.get(j + 1) == l.get(j) + 1) {
                j++;
            }
            sb.append(sb.isEmpty() ? "" : ",").append(l.get(i)).append(j > i ? "-" + l.get(j) : "");
            i = j + 1;
        }
        return sb.toString();
    }

    /** "1-3,7" → {1, 2, 3, 7} */
    static Set<Integer> parseRanges(String s) {
        Set<Integer> out = new TreeSet<>();
        if (s == null || s.isBlank()) {
            return out;
        }
        for (String part : s.split(",")) {
            String[] ab = part.strip().split("-");
            int a = Integer.parseInt(ab[0].strip());
            int b = ab.length > 1 ? Integer.parseInt(ab[1].strip()) : a;
            for (int i = a; i <= b; i++) {
                out.add(i);
            }
        }
        return out;
    }

    static List<String> parseChain(String s) {
        return Arrays.stream(s.split(","))
                .map(String::strip)
                .filter(x -> !x.isEmpty())
                .toList();
    }

    private static String clip(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "…";
    }
}
