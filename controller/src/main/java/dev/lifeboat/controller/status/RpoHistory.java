package dev.lifeboat.controller.status;

import dev.lifeboat.controller.status.SlaStatus.DatabaseStatus;
import dev.lifeboat.controller.status.SlaStatus.RegionRpo;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * RPO and WAL lag per database and region over the last {@link #POINTS} steps, for the dashboard's charts. Each step
 * keeps the worst value seen in it (a spike between two renderings must not vanish) and steps start at multiples of
 * the step, so every series has the same time axis and regions can be summed or maxed across databases. Kept in
 * memory: a controller restart starts the history over (Prometheus, scraping {@code /metrics}, keeps it longer).
 */
public final class RpoHistory {
    /** Steps kept per series: 12 hours at the default one-minute step. */
    public static final int POINTS = 720;

    /** One step of one series; NaN where nothing was measured in it. */
    public record Point(Instant at, double rpoSeconds, double lagBytes) {}

    private record Key(String database, String region) {}

    private final long stepSeconds;
    private final Map<Key, Ring> series = new ConcurrentHashMap<>();

    public RpoHistory(Duration step) {
        if (step.toSeconds() < 1) {
            throw new IllegalArgumentException("history-step must be at least 1s, got " + step);
        }
        this.stepSeconds = step.toSeconds();
    }

    public Duration step() {
        return Duration.ofSeconds(stepSeconds);
    }

    /** Records every region of every database as measured now (called once per status evaluation). */
    public void record(List<DatabaseStatus> statuses, Instant now) {
        long step = Math.floorDiv(now.getEpochSecond(), stepSeconds);
        for (DatabaseStatus st : statuses) {
            for (RegionRpo r : st.regions()) {
                series.computeIfAbsent(new Key(st.database(), r.region()), k -> new Ring())
                        .put(
                                step,
                                r.rpoSeconds() == null ? Double.NaN : r.rpoSeconds(),
                                r.lagBytes() == null ? Double.NaN : r.lagBytes());
            }
        }
    }

    /** One database's series per region, oldest step first, up to {@code now}'s step. */
    public Map<String, List<Point>> of(String database, Instant now) {
        Map<String, List<Point>> out = new TreeMap<>();
        series.forEach((k, ring) -> {
            if (k.database().equals(database)) {
                out.put(k.region(), ring.points(Math.floorDiv(now.getEpochSecond(), stepSeconds), stepSeconds));
            }
        });
        return out;
    }

    /**
     * Per region across every database: the worst RPO and the summed WAL lag of each step, oldest first (a step where
     * no database of the region was measured is NaN).
     */
    public Map<String, List<Point>> byRegion(Instant now) {
        long last = Math.floorDiv(now.getEpochSecond(), stepSeconds);
        Map<String, double[][]> sums = new TreeMap<>();
        // straight from the rings into one array pair per region: no point objects per series (1,000 databases in
        // two regions are 1.4 million points)
        series.forEach((k, ring) -> ring.accumulate(last, sums.computeIfAbsent(k.region(), r -> empty())));
        Map<String, List<Point>> out = new TreeMap<>();
        sums.forEach((region, acc) -> {
            List<Point> points = new ArrayList<>(POINTS);
            for (int i = 0; i < POINTS; i++) {
                points.add(new Point(at(last - POINTS + 1 + i, stepSeconds), acc[0][i], acc[1][i]));
            }
            out.put(region, points);
        });
        return out;
    }

    private static double[][] empty() {
        double[][] acc = new double[2][POINTS];
        Arrays.fill(acc[0], Double.NaN);
        Arrays.fill(acc[1], Double.NaN);
        return acc;
    }

    private static double worst(double a, double b) {
        return Double.isNaN(a) ? b : Double.isNaN(b) ? a : Math.max(a, b);
    }

    private static Instant at(long step, long stepSeconds) {
        return Instant.ofEpochSecond(step * stepSeconds);
    }

    /** {@link #POINTS} steps in a circle, indexed by step number; a slot holds the step it was written in. */
    private static final class Ring {
        private final long[] steps = new long[POINTS];
        private final float[] rpo = new float[POINTS];
        private final float[] lag = new float[POINTS];

        Ring() {
            Arrays.fill(steps, Long.MIN_VALUE);
        }

        synchronized void put(long step, double rpoSeconds, double lagBytes) {
            int i = (int) Math.floorMod(step, (long) POINTS);
            if (steps[i] != step) {
                steps[i] = step;
                rpo[i] = (float) rpoSeconds;
                lag[i] = (float) lagBytes;
                return;
            }
            rpo[i] = (float) worst(rpo[i], rpoSeconds);
            lag[i] = (float) worst(lag[i], lagBytes);
        }

        /** Folds the {@link #POINTS} steps ending at {@code last} into {@code acc}: worst RPO, summed lag. */
        synchronized void accumulate(long last, double[][] acc) {
            for (int i = 0; i < POINTS; i++) {
                long step = last - POINTS + 1 + i;
                int slot = (int) Math.floorMod(step, (long) POINTS);
                if (steps[slot] != step) {
                    continue;
                }
                acc[0][i] = worst(acc[0][i], rpo[slot]);
                if (!Float.isNaN(lag[slot])) {
                    acc[1][i] = (Double.isNaN(acc[1][i]) ? 0 : acc[1][i]) + lag[slot];
                }
            }
        }

        /** The {@link #POINTS} steps ending at {@code last}, NaN where a step was not written. */
        synchronized List<Point> points(long last, long stepSeconds) {
            List<Point> out = new ArrayList<>(POINTS);
            for (long step = last - POINTS + 1; step <= last; step++) {
                int i = (int) Math.floorMod(step, (long) POINTS);
                boolean have = steps[i] == step;
                out.add(new Point(at(step, stepSeconds), have ? rpo[i] : Double.NaN, have ? lag[i] : Double.NaN));
            }
            return out;
        }
    }
}
