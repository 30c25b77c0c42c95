package dev.lifeboat.repository;

import dev.lifeboat.engine.BackupInfo;
import dev.lifeboat.engine.postgres.TimelineHistory;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeParseException;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Which backups a retention policy keeps: a pure function of the backups, what the WAL archive says about timelines,
 * the current time and the policy.
 * <ul>
 *   <li>{@code keepFull} N: the newest N backups of type {@code full};</li>
 *   <li>{@code keepDaily}/{@code keepWeekly}/{@code keepMonthly} K: the newest backup of each of the last K distinct
 *       UTC days / ISO-8601 weeks / months that have a backup (restic's {@code --keep-daily} semantics: counting
 *       starts at the newest backup, and periods without a backup do not count);</li>
 *   <li>{@code pitrWindow} W: every backup needed to recover any point in {@code [now - W, now]} on any timeline: all
 *       backups that stopped after {@code now - W}, plus, for every timeline with points in the window, the newest
 *       backup on that timeline's history that stopped at or before {@code now - W} (the base for the window's
 *       earliest points on that timeline; a restore picks the base the same way);</li>
 *   <li>the newest backup is always kept.</li>
 * </ul>
 * A value of 0 disables that rule. Backups are ordered by start time (then id); the start time in UTC decides a
 * backup's day, week and month. Incremental and differential backups count for the daily/weekly/monthly and PITR
 * rules like full ones: every backup restores on its own (its manifest names every chunk it needs, including the
 * ones it shares with its parent), so keeping one never requires keeping its parent.
 */
public record RetentionPolicy(int keepFull, int keepDaily, int keepWeekly, int keepMonthly, Duration pitrWindow) {
    public static final String FULL = "full";

    public RetentionPolicy {
        if (keepFull < 0 || keepDaily < 0 || keepWeekly < 0 || keepMonthly < 0) {
            throw new IllegalArgumentException("retention counts must not be negative");
        }
        pitrWindow = pitrWindow == null ? Duration.ZERO : pitrWindow;
        if (pitrWindow.isNegative()) {
            throw new IllegalArgumentException("the PITR window must not be negative");
        }
    }

    /** {@code --keep-full 5 --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --pitr-window 72h}. */
    public static RetentionPolicy defaults() {
        return new RetentionPolicy(5, 7, 4, 12, Duration.ofHours(72));
    }

    /**
     * What the policy needs to know about a backup ({@code type} is {@code full}, {@code incr} or {@code diff}).
     * {@code stopLsn} is -1 when unknown; such a backup counts as lying on every timeline's history.
     */
    public record Backup(String id, String type, Instant startTime, Instant stopTime, int timeline, long stopLsn) {
        public Backup {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(startTime, "startTime of " + id);
            Objects.requireNonNull(stopTime, "stopTime of " + id);
        }

        /** A backup on timeline 1 whose stop LSN is unknown. */
        public Backup(String id, String type, Instant startTime, Instant stopTime) {
            this(id, type, startTime, stopTime, 1, -1);
        }

        public static Backup of(Snapshot s) {
            BackupInfo info = s.engineInfo();
            int timeline = info != null && info.timeline() > 0 ? info.timeline() : 1;
            // unknown: treated as on every timeline's history, which keeps more, never less
            long stop = info != null && info.stopLsn() != 0 ? info.stopLsn() : -1;
            return new Backup(s.id(), s.type(), s.startTime(), s.stopTime(), timeline, stop);
        }
    }

    /**
     * What the WAL archive says about timelines.
     *
     * @param histories parsed {@code .history} files by timeline
     * @param walEnd    per timeline with archived WAL files, when the newest of them was archived (store time): a
     *                  timeline whose WAL ends before the window starts has no points in the window. A timeline
     *                  missing here (known only from backups, or the archive was not consulted) counts as having
     *                  points in the window.
     */
    public record Timelines(Map<Integer, TimelineHistory> histories, Map<Integer, Instant> walEnd) {
        /** Nothing known from the archive: every backup's timeline counts, none has a history. */
        public static final Timelines NONE = new Timelines(Map.of(), Map.of());

        public Timelines {
            histories = Map.copyOf(histories);
            walEnd = Map.copyOf(walEnd);
        }

        /**
         * Whether the point {@code lsn} on timeline {@code tli} is part of timeline {@code target}'s past: the same
         * timeline, or {@code target} descends from {@code tli} and branched off after {@code lsn}. A timeline after
         * the first whose history file is missing could descend from anything, and an unknown LSN could lie anywhere:
         * both count as on the history (retention then keeps more, never less).
         */
        public boolean onHistory(int target, int tli, long lsn) {
            if (tli == target || lsn < 0) {
                return true;
            }
            TimelineHistory h = histories.get(target);
            if (h == null) {
                return target > 1;
            }
            return h.contains(tli, lsn);
        }
    }

    /**
     * @param kept    id → why it is kept, oldest backup first
     * @param expired ids of the backups no rule keeps, oldest first
     */
    public record Decision(Map<String, List<String>> kept, List<String> expired) {}

    private static final Comparator<Backup> OLDEST_FIRST =
            Comparator.comparing(Backup::startTime).thenComparing(Backup::id);

    /** Applies the policy at {@code now}, knowing nothing of the archive's timelines beyond the backups'. */
    public Decision apply(List<Backup> backups, Instant now) {
        return apply(backups, Timelines.NONE, now);
    }

    /** Applies the policy at {@code now}. */
    public Decision apply(List<Backup> backups, Timelines timelines, Instant now) {
        Objects.requireNonNull(now, "now");
        List<Backup> newestFirst = new ArrayList<>(backups);
        newestFirst.sort(OLDEST_FIRST.reversed());
        Map<String, Set<String>> reasons = new HashMap<>();

        if (keepFull > 0) {
            int n = 0;
            for (Backup b : newestFirst) {
                if (FULL.equals(b.type()) && n < keepFull) {
                    keep(reasons, b, "last " + keepFull + " full");
                    n++;
                }
            }
        }
        keepPeriods(newestFirst, keepDaily, "daily ", t -> t.toLocalDate().toString(), reasons);
        keepPeriods(
                newestFirst,
                keepWeekly,
                "weekly ",
                t -> String.format(
                        "%d-W%02d", t.get(IsoFields.WEEK_BASED_YEAR), t.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR)),
                reasons);
        keepPeriods(
                newestFirst,
                keepMonthly,
                "monthly ",
                t -> String.format("%d-%02d", t.getYear(), t.getMonthValue()),
                reasons);

        if (!pitrWindow.isZero()) {
            keepPitrWindow(newestFirst, timelines, now.minus(pitrWindow), reasons);
        }
        if (!newestFirst.isEmpty()) {
            keep(reasons, newestFirst.getFirst(), "newest backup");
        }

        Map<String, List<String>> kept = new LinkedHashMap<>();
        List<String> expired = new ArrayList<>();
        for (Backup b : newestFirst.reversed()) {
            Set<String> r = reasons.get(b.id());
            if (r != null) {
                kept.put(b.id(), List.copyOf(r));
            } else {
                expired.add(b.id());
            }
        }
        return new Decision(kept, expired);
    }

    /**
     * Every backup that stopped inside the window, and per timeline with points in the window the newest backup on
     * its history that stopped at or before the window's start: a target early in the window on that timeline
     * replays from it. One base for all timelines (the newest before the window) would leave a timeline without a
     * base when the newest backup lies on another timeline.
     */
    private static void keepPitrWindow(
            List<Backup> newestFirst, Timelines timelines, Instant windowStart, Map<String, Set<String>> reasons) {
        TreeSet<Integer> all = new TreeSet<>(timelines.histories().keySet());
        all.addAll(timelines.walEnd().keySet());
        Set<Integer> inWindow = new TreeSet<>();
        for (Backup b : newestFirst) {
            all.add(b.timeline());
            if (b.stopTime().isAfter(windowStart)) {
                keep(reasons, b, "inside PITR window");
                inWindow.add(b.timeline());
            }
        }
        Map<String, List<Integer>> baseOf = new LinkedHashMap<>();
        List<Integer> needBase = new ArrayList<>();
        for (int t : all) {
            Instant end = timelines.walEnd().get(t);
            if (!inWindow.contains(t) && end != null && !end.isAfter(windowStart)) {
                continue; // its WAL ends before the window (e.g. an abandoned drill): no point of the window lies on it
            }
            needBase.add(t);
            Backup base = null;
            for (Backup b : newestFirst) {
                if (!b.stopTime().isAfter(windowStart)
                        && timelines.onHistory(t, b.timeline(), b.stopLsn())
                        && (base == null || b.stopTime().isAfter(base.stopTime()))) {
                    base = b;
                }
            }
            if (base != null) {
                baseOf.computeIfAbsent(base.id(), k -> new ArrayList<>()).add(t);
            }
        }
        for (Backup b : newestFirst) {
            List<Integer> of = baseOf.get(b.id());
            if (of != null) {
                keep(
                        reasons,
                        b,
                        of.size() == needBase.size()
                                ? "base of PITR window"
                                : "base of PITR window on timeline" + (of.size() > 1 ? "s " : " ")
                                        + of.stream().map(String::valueOf).collect(Collectors.joining(", ")));
            }
        }
    }

    /** Keeps the newest backup of each of the last {@code count} distinct periods that have one. */
    private static void keepPeriods(
            List<Backup> newestFirst,
            int count,
            String label,
            Function<ZonedDateTime, String> period,
            Map<String, Set<String>> reasons) {
        if (count <= 0) {
            return;
        }
        String last = null;
        int n = 0;
        for (Backup b : newestFirst) {
            if (n >= count) {
                break;
            }
            String p = period.apply(b.startTime().atZone(ZoneOffset.UTC));
            if (!p.equals(last)) {
                keep(reasons, b, label + p);
                last = p;
                n++;
            }
        }
    }

    private static void keep(Map<String, Set<String>> reasons, Backup b, String why) {
        reasons.computeIfAbsent(b.id(), k -> new LinkedHashSet<>()).add(why);
    }

    /** The policy in the CLI's words, e.g. {@code full 5, daily 7, weekly 4, monthly 12, PITR window 72h}. */
    public String describe() {
        return "full " + keepFull + ", daily " + keepDaily + ", weekly " + keepWeekly + ", monthly " + keepMonthly
                + ", PITR window " + formatDuration(pitrWindow);
    }

    /** Parses {@code 72h}, {@code 3d}, {@code 90m}, {@code 45s}, {@code 2w}, {@code 0} or ISO-8601 ({@code PT72H}). */
    public static Duration parseDuration(String text) {
        String s = text == null ? "" : text.strip().toLowerCase(Locale.ROOT);
        if (s.equals("0")) {
            return Duration.ZERO;
        }
        if (s.startsWith("p")) {
            try {
                Duration d = Duration.parse(s.toUpperCase(Locale.ROOT));
                if (!d.isNegative()) {
                    return d;
                }
            } catch (DateTimeParseException ignored) {
                // reported below
            }
        } else if (s.matches("[0-9]+[smhdw]")) {
            long n = Long.parseLong(s.substring(0, s.length() - 1));
            return switch (s.charAt(s.length() - 1)) {
                case 's' -> Duration.ofSeconds(n);
                case 'm' -> Duration.ofMinutes(n);
                case 'h' -> Duration.ofHours(n);
                case 'd' -> Duration.ofDays(n);
                default -> Duration.ofDays(7 * n);
            };
        }
        throw new IllegalArgumentException("'" + text + "' is not a duration; write e.g. 72h, 3d, 90m, 2w or 0");
    }

    /** {@code 72h}, {@code 90m}, {@code 3d}, {@code 0}: the largest whole unit. */
    public static String formatDuration(Duration d) {
        long s = d.toSeconds();
        if (s == 0) {
            return "0";
        }
        if (s % 86400 == 0 && s > 3 * 86400) {
            return s / 86400 + "d";
        }
        if (s % 3600 == 0) {
            return s / 3600 + "h";
        }
        if (s % 60 == 0) {
            return s / 60 + "m";
        }
        return s + "s";
    }
}
