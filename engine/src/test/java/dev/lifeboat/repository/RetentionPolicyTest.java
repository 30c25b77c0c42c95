package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.engine.postgres.TimelineHistory;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Retention on a synthetic history: a full backup every day at 01:00-01:30 UTC for 400 days (2025-10-21 to
 * 2026-11-24) and incremental (one differential) backups at 13:00-13:10 UTC on a few days; "now" is
 * 2026-11-24T12:00Z. Every expected set is written out by hand from the calendar.
 */
class RetentionPolicyTest {
    static final Instant NOW = Instant.parse("2026-11-24T12:00:00Z");
    static final LocalDate FIRST_DAY = LocalDate.parse("2025-10-21");
    static final LocalDate LAST_DAY = LocalDate.parse("2026-11-24");
    static final List<String> INCR_DAYS = List.of("2026-03-15", "2026-10-31", "2026-11-22", "2026-11-23");

    /** The id of the full backup of that day. */
    static String full(String day) {
        return day.replace("-", "") + "-010000F-0000";
    }

    /** The id of the incremental (on 2026-03-15: differential) backup of that day. */
    static String incr(String day) {
        return day.replace("-", "") + (day.equals("2026-03-15") ? "-130000D-0000" : "-130000I-0000");
    }

    static List<RetentionPolicy.Backup> history() {
        List<RetentionPolicy.Backup> out = new ArrayList<>();
        for (LocalDate d = FIRST_DAY; !d.isAfter(LAST_DAY); d = d.plusDays(1)) {
            Instant start = Instant.parse(d + "T01:00:00Z");
            out.add(new RetentionPolicy.Backup(full(d.toString()), "full", start, start.plusSeconds(1800)));
            if (INCR_DAYS.contains(d.toString())) {
                Instant is = Instant.parse(d + "T13:00:00Z");
                out.add(new RetentionPolicy.Backup(
                        incr(d.toString()),
                        d.toString().equals("2026-03-15") ? "diff" : "incr",
                        is,
                        is.plusSeconds(600)));
            }
        }
        Collections.shuffle(out, new Random(42)); // input order must not matter
        return out;
    }

    static RetentionPolicy.Decision apply(RetentionPolicy p) {
        return p.apply(history(), NOW);
    }

    static List<String> ids(String... ids) {
        List<String> out = new ArrayList<>(List.of(ids));
        out.sort(null);
        return out;
    }

    @Test
    void theSyntheticHistoryIsWhatTheTestsAssume() {
        List<RetentionPolicy.Backup> h = history();
        assertThat(h).hasSize(400 + 4);
        assertThat(h.stream().filter(b -> b.type().equals("full")).count()).isEqualTo(400);
    }

    @Test
    void keepFullKeepsTheNewestFullBackupsOnly() {
        RetentionPolicy.Decision d = apply(new RetentionPolicy(5, 0, 0, 0, Duration.ZERO));
        assertThat(List.copyOf(d.kept().keySet()))
                .isEqualTo(ids(
                        full("2026-11-20"),
                        full("2026-11-21"),
                        full("2026-11-22"),
                        full("2026-11-23"),
                        full("2026-11-24")));
        assertThat(d.kept().get(full("2026-11-20"))).containsExactly("last 5 full");
        assertThat(d.kept().get(full("2026-11-24"))).containsExactly("last 5 full", "newest backup");
        assertThat(d.expired()).hasSize(404 - 5).contains(incr("2026-11-23"), incr("2026-11-22"), full("2026-11-19"));
        assertThat(d.expired().getFirst()).isEqualTo(full("2025-10-21"));
    }

    @Test
    void keepDailyKeepsTheNewestBackupOfEachOfTheLastDaysThatHaveOne() {
        RetentionPolicy.Decision d = apply(new RetentionPolicy(0, 7, 0, 0, Duration.ZERO));
        // days 11-18 .. 11-24; on 11-22 and 11-23 the incremental is the newest (every backup restores on its own,
        // so the full backup of those days is not needed for it)
        assertThat(List.copyOf(d.kept().keySet()))
                .isEqualTo(ids(
                        full("2026-11-18"),
                        full("2026-11-19"),
                        full("2026-11-20"),
                        full("2026-11-21"),
                        incr("2026-11-22"),
                        incr("2026-11-23"),
                        full("2026-11-24")));
        assertThat(d.kept().get(incr("2026-11-23"))).containsExactly("daily 2026-11-23");
        assertThat(d.kept().get(full("2026-11-18"))).containsExactly("daily 2026-11-18");
        assertThat(d.kept().get(full("2026-11-24"))).containsExactly("daily 2026-11-24", "newest backup");
        assertThat(d.expired()).contains(full("2026-11-22"), full("2026-11-23"), full("2026-11-17"));
    }

    @Test
    void keepWeeklyUsesIsoWeeks() {
        // 2026-11-24 is a Tuesday in 2026-W48 (Mon 11-23 .. Sun 11-29); W47 ends Sunday 11-22 with an incremental
        RetentionPolicy.Decision d = apply(new RetentionPolicy(0, 0, 4, 0, Duration.ZERO));
        assertThat(List.copyOf(d.kept().keySet()))
                .isEqualTo(ids(full("2026-11-08"), full("2026-11-15"), incr("2026-11-22"), full("2026-11-24")));
        assertThat(d.kept().get(full("2026-11-24"))).containsExactly("weekly 2026-W48", "newest backup");
        assertThat(d.kept().get(incr("2026-11-22"))).containsExactly("weekly 2026-W47");
        assertThat(d.kept().get(full("2026-11-15"))).containsExactly("weekly 2026-W46");
        assertThat(d.kept().get(full("2026-11-08"))).containsExactly("weekly 2026-W45");
    }

    @Test
    void keepWeeklyAcrossAYearBoundary() {
        // 2026-01-01 is a Thursday: 2025-12-29 .. 2026-01-04 is 2026-W01, and 2025-12-28 (Sunday) ends 2025-W52
        List<RetentionPolicy.Backup> h = history().stream()
                .filter(b -> b.startTime().isBefore(Instant.parse("2026-01-02T00:00:00Z")))
                .toList();
        RetentionPolicy.Decision d = new RetentionPolicy(0, 0, 3, 0, Duration.ZERO).apply(h, NOW);
        assertThat(d.kept()).containsOnlyKeys(full("2026-01-01"), full("2025-12-28"), full("2025-12-21"));
        assertThat(d.kept().get(full("2026-01-01"))).containsExactly("weekly 2026-W01", "newest backup");
        assertThat(d.kept().get(full("2025-12-28"))).containsExactly("weekly 2025-W52");
    }

    @Test
    void keepMonthlyCountsOnlyMonthsThatHaveABackup() {
        List<String> twelve = ids(
                full("2026-11-24"),
                incr("2026-10-31"),
                full("2026-09-30"),
                full("2026-08-31"),
                full("2026-07-31"),
                full("2026-06-30"),
                full("2026-05-31"),
                full("2026-04-30"),
                full("2026-03-31"),
                full("2026-02-28"),
                full("2026-01-31"),
                full("2025-12-31"));
        RetentionPolicy.Decision d = apply(new RetentionPolicy(0, 0, 0, 12, Duration.ZERO));
        assertThat(List.copyOf(d.kept().keySet())).isEqualTo(twelve);
        assertThat(d.kept().get(incr("2026-10-31"))).containsExactly("monthly 2026-10");
        assertThat(d.kept().get(full("2026-02-28"))).containsExactly("monthly 2026-02");
        assertThat(d.kept().get(full("2026-03-31"))).containsExactly("monthly 2026-03");

        // the history has 14 months (2025-10 .. 2026-11): asking for 14 or 20 keeps one in each of them
        List<String> all = new ArrayList<>(twelve);
        all.add(full("2025-11-30"));
        all.add(full("2025-10-31"));
        all.sort(null);
        assertThat(List.copyOf(apply(new RetentionPolicy(0, 0, 0, 14, Duration.ZERO))
                        .kept()
                        .keySet()))
                .isEqualTo(all);
        assertThat(List.copyOf(apply(new RetentionPolicy(0, 0, 0, 20, Duration.ZERO))
                        .kept()
                        .keySet()))
                .isEqualTo(all);
    }

    @Test
    void pitrWindowKeepsEveryBackupStoppedInsideItPlusTheBaseBeforeIt() {
        // window 2026-11-21T12:00 .. now: stops inside are 11-22 (full, incr), 11-23 (full, incr), 11-24; base is 11-21
        RetentionPolicy.Decision d = apply(new RetentionPolicy(0, 0, 0, 0, Duration.ofHours(72)));
        assertThat(List.copyOf(d.kept().keySet()))
                .isEqualTo(ids(
                        full("2026-11-21"),
                        full("2026-11-22"),
                        incr("2026-11-22"),
                        full("2026-11-23"),
                        incr("2026-11-23"),
                        full("2026-11-24")));
        assertThat(d.kept().get(full("2026-11-21"))).containsExactly("base of PITR window");
        assertThat(d.kept().get(full("2026-11-22"))).containsExactly("inside PITR window");
        assertThat(d.kept().get(incr("2026-11-22"))).containsExactly("inside PITR window");
    }

    @Test
    void pitrWindowBoundaryAtAStopTime() {
        // the window starts exactly when 11-21's backup stopped (01:30): it is the base, 11-20 is not needed
        Duration toStop = Duration.between(Instant.parse("2026-11-21T01:30:00Z"), NOW);
        RetentionPolicy.Decision at = apply(new RetentionPolicy(0, 0, 0, 0, toStop));
        assertThat(at.kept())
                .containsOnlyKeys(
                        full("2026-11-21"),
                        full("2026-11-22"),
                        incr("2026-11-22"),
                        full("2026-11-23"),
                        incr("2026-11-23"),
                        full("2026-11-24"));
        assertThat(at.kept().get(full("2026-11-21"))).containsExactly("base of PITR window");
        // one second earlier, 11-21 stopped inside the window and 11-20 becomes the base
        RetentionPolicy.Decision before = apply(new RetentionPolicy(0, 0, 0, 0, toStop.plusSeconds(1)));
        assertThat(before.kept())
                .containsOnlyKeys(
                        full("2026-11-20"),
                        full("2026-11-21"),
                        full("2026-11-22"),
                        incr("2026-11-22"),
                        full("2026-11-23"),
                        incr("2026-11-23"),
                        full("2026-11-24"));
        assertThat(before.kept().get(full("2026-11-20"))).containsExactly("base of PITR window");
        assertThat(before.kept().get(full("2026-11-21"))).containsExactly("inside PITR window");
    }

    @Test
    void theDefaultPolicyKeepsTheUnionOfItsRules() {
        RetentionPolicy.Decision d = apply(RetentionPolicy.defaults());
        List<String> expected = ids(
                // last 5 full + 7 daily + PITR 72h
                full("2026-11-18"),
                full("2026-11-19"),
                full("2026-11-20"),
                full("2026-11-21"),
                full("2026-11-22"),
                incr("2026-11-22"),
                full("2026-11-23"),
                incr("2026-11-23"),
                full("2026-11-24"),
                // weekly W46, W45
                full("2026-11-15"),
                full("2026-11-08"),
                // monthly 2026-10 .. 2025-12
                incr("2026-10-31"),
                full("2026-09-30"),
                full("2026-08-31"),
                full("2026-07-31"),
                full("2026-06-30"),
                full("2026-05-31"),
                full("2026-04-30"),
                full("2026-03-31"),
                full("2026-02-28"),
                full("2026-01-31"),
                full("2025-12-31"));
        assertThat(List.copyOf(d.kept().keySet())).isEqualTo(expected);
        assertThat(d.expired()).hasSize(404 - expected.size()).doesNotContainAnyElementsOf(expected);
        assertThat(d.kept().get(full("2026-11-24")))
                .containsExactly(
                        "last 5 full",
                        "daily 2026-11-24",
                        "weekly 2026-W48",
                        "monthly 2026-11",
                        "inside PITR window",
                        "newest backup");
        assertThat(d.kept().get(full("2026-11-22"))).containsExactly("last 5 full", "inside PITR window");
        assertThat(d.kept().get(incr("2026-11-22")))
                .containsExactly("daily 2026-11-22", "weekly 2026-W47", "inside PITR window");
        assertThat(d.kept().get(full("2026-11-21")))
                .containsExactly("last 5 full", "daily 2026-11-21", "base of PITR window");
        assertThat(d.kept()).doesNotContainKey(full("2026-10-31"));
        assertThat(d.kept().get(incr("2026-10-31"))).containsExactly("monthly 2026-10");
    }

    @Test
    void allRulesOffStillKeepsTheNewestBackup() {
        RetentionPolicy.Decision d = apply(new RetentionPolicy(0, 0, 0, 0, Duration.ZERO));
        assertThat(d.kept()).isEqualTo(Map.of(full("2026-11-24"), List.of("newest backup")));
        assertThat(d.expired()).hasSize(403);
        // the newest backup is kept even if it is an incremental
        List<RetentionPolicy.Backup> h = new ArrayList<>(history());
        h.removeIf(b -> b.id().equals(full("2026-11-24")));
        RetentionPolicy.Decision d2 = new RetentionPolicy(0, 0, 0, 0, Duration.ZERO).apply(h, NOW);
        assertThat(d2.kept()).isEqualTo(Map.of(incr("2026-11-23"), List.of("newest backup")));
        assertThat(new RetentionPolicy(3, 3, 3, 3, Duration.ofDays(3))
                        .apply(List.of(), NOW)
                        .kept())
                .isEmpty();
    }

    @Test
    void keepFullIgnoresIncrementalAndDifferentialBackups() {
        RetentionPolicy.Decision d = apply(new RetentionPolicy(1000, 0, 0, 0, Duration.ZERO));
        assertThat(d.kept()).hasSize(400); // every full backup; the newest backup is a full one
        assertThat(d.expired())
                .containsExactly(incr("2026-03-15"), incr("2026-10-31"), incr("2026-11-22"), incr("2026-11-23"));
    }

    @Test
    void durationsParse() {
        assertThat(RetentionPolicy.parseDuration("72h")).isEqualTo(Duration.ofHours(72));
        assertThat(RetentionPolicy.parseDuration("3d")).isEqualTo(Duration.ofDays(3));
        assertThat(RetentionPolicy.parseDuration("90m")).isEqualTo(Duration.ofMinutes(90));
        assertThat(RetentionPolicy.parseDuration("2w")).isEqualTo(Duration.ofDays(14));
        assertThat(RetentionPolicy.parseDuration("45s")).isEqualTo(Duration.ofSeconds(45));
        assertThat(RetentionPolicy.parseDuration("0")).isEqualTo(Duration.ZERO);
        assertThat(RetentionPolicy.parseDuration("PT36H")).isEqualTo(Duration.ofHours(36));
        assertThatThrownBy(() -> RetentionPolicy.parseDuration("72")).hasMessageContaining("72h");
        assertThatThrownBy(() -> RetentionPolicy.parseDuration("-3d")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> RetentionPolicy.parseDuration("3 days")).isInstanceOf(IllegalArgumentException.class);
        assertThat(RetentionPolicy.formatDuration(Duration.ofHours(72))).isEqualTo("72h");
        assertThat(RetentionPolicy.defaults().describe())
                .isEqualTo("full 5, daily 7, weekly 4, monthly 12, PITR window 72h");
    }

    /** A backup on {@code timeline} that stopped {@code ago} before NOW at {@code stopLsn}. */
    static RetentionPolicy.Backup onTimeline(String id, int timeline, Duration ago, String stopLsn) {
        Instant stop = NOW.minus(ago);
        return new RetentionPolicy.Backup(id, "full", stop.minusSeconds(600), stop, timeline, Lsn.parse(stopLsn));
    }

    static TimelineHistory history(int timeline, String content) {
        return TimelineHistory.parse(timeline, content);
    }

    /**
     * Timeline 1 runs on; timeline 2 branched off it at 0/3000000 (a PITR restore promoted) and runs too. The newest
     * backup before the window (b1, 5 days ago) is on timeline 2; on timeline 1 it is a2 (6 days ago), which stopped
     * after the branch point and so is not on timeline 2's history. A single base (b1) would leave the window's early
     * points on timeline 1 without a base; each timeline gets its own.
     */
    @Test
    void thePitrWindowKeepsABaseOnEveryTimelineWithPointsInIt() {
        List<RetentionPolicy.Backup> backups = List.of(
                onTimeline("a1", 1, Duration.ofDays(10), "0/1000100"),
                onTimeline("a2", 1, Duration.ofDays(6), "0/5000100"),
                onTimeline("b1", 2, Duration.ofDays(5), "0/4000100"),
                onTimeline("b2", 2, Duration.ofHours(2), "0/9000100"),
                onTimeline("a3", 1, Duration.ofHours(1), "0/8000100"));
        RetentionPolicy.Timelines tls = new RetentionPolicy.Timelines(
                Map.of(2, history(2, "1\t0/3000000\tno recovery target specified\n")), Map.of(1, NOW, 2, NOW));
        RetentionPolicy policy = new RetentionPolicy(0, 0, 0, 0, Duration.ofDays(4));

        RetentionPolicy.Decision d = policy.apply(backups, tls, NOW);
        assertThat(d.kept()).containsOnlyKeys("a2", "b1", "b2", "a3");
        assertThat(d.kept().get("a2")).containsExactly("base of PITR window on timeline 1");
        assertThat(d.kept().get("b1")).containsExactly("base of PITR window on timeline 2");
        assertThat(d.kept().get("b2")).containsExactly("inside PITR window");
        assertThat(d.expired()).containsExactly("a1");

        // without b1, timeline 2's base is a1 (stopped before the branch point); a2 is still timeline 1's
        List<RetentionPolicy.Backup> noB1 =
                backups.stream().filter(b -> !b.id().equals("b1")).toList();
        RetentionPolicy.Decision d2 = policy.apply(noB1, tls, NOW);
        assertThat(d2.kept().get("a1")).containsExactly("base of PITR window on timeline 2");
        assertThat(d2.kept().get("a2")).containsExactly("base of PITR window on timeline 1");

        // a base that serves every timeline is simply the window's base
        RetentionPolicy.Decision d3 = new RetentionPolicy(0, 0, 0, 0, Duration.ofDays(7)).apply(backups, tls, NOW);
        assertThat(d3.kept().get("a1")).containsExactly("base of PITR window");
        assertThat(d3.expired()).isEmpty();
    }

    /** An abandoned timeline (a drill that archived for a while and was dropped) has no point in the window. */
    @Test
    void aTimelineWhoseWalEndsBeforeTheWindowNeedsNoBase() {
        List<RetentionPolicy.Backup> backups = List.of(
                onTimeline("a1", 1, Duration.ofDays(10), "0/1000100"),
                onTimeline("a2", 1, Duration.ofDays(6), "0/5000100"),
                onTimeline("a3", 1, Duration.ofHours(1), "0/8000100"));
        Map<Integer, TimelineHistory> h = Map.of(3, history(3, "1\t0/2000000\tafter a1\n"));
        RetentionPolicy policy = new RetentionPolicy(0, 0, 0, 0, Duration.ofDays(4));
        RetentionPolicy.Decision abandoned = policy.apply(
                backups, new RetentionPolicy.Timelines(h, Map.of(1, NOW, 3, NOW.minus(Duration.ofDays(20)))), NOW);
        assertThat(abandoned.kept()).containsOnlyKeys("a2", "a3");
        assertThat(abandoned.kept().get("a2")).containsExactly("base of PITR window");
        RetentionPolicy.Decision active = policy.apply(
                backups, new RetentionPolicy.Timelines(h, Map.of(1, NOW, 3, NOW.minus(Duration.ofDays(1)))), NOW);
        assertThat(active.kept().get("a1")).containsExactly("base of PITR window on timeline 3");
        assertThat(active.kept().get("a2")).containsExactly("base of PITR window on timeline 1");
    }

    @Test
    void whatLiesOnATimelinesHistory() {
        RetentionPolicy.Timelines tls =
                new RetentionPolicy.Timelines(Map.of(3, history(3, "1\t0/2000000\tx\n2\t0/5000000\ty\n")), Map.of());
        assertThat(tls.onHistory(3, 3, Lsn.parse("0/9000000"))).isTrue();
        assertThat(tls.onHistory(3, 1, Lsn.parse("0/1000000"))).isTrue();
        assertThat(tls.onHistory(3, 1, Lsn.parse("0/3000000")))
                .as("timeline 1 after 3's ancestry left it")
                .isFalse();
        assertThat(tls.onHistory(3, 2, Lsn.parse("0/4000000"))).isTrue();
        assertThat(tls.onHistory(3, 2, Lsn.parse("0/6000000"))).isFalse();
        assertThat(tls.onHistory(1, 2, Lsn.parse("0/1000000")))
                .as("timeline 1 descends from nothing")
                .isFalse();
        assertThat(tls.onHistory(1, 3, -1))
                .as("an unknown LSN could be anywhere")
                .isTrue();
        assertThat(tls.onHistory(4, 1, Lsn.parse("0/9000000")))
                .as("no history file: ancestry unknown")
                .isTrue();
    }
}
