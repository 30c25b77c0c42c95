package dev.lifeboat.cli.commands.replication;

import com.fasterxml.jackson.annotation.JsonUnwrapped;
import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.output.Sizes;
import dev.lifeboat.replication.Heartbeat;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.replication.Replicator;
import dev.lifeboat.replication.RepositoryAccess;
import dev.lifeboat.storage.BlobStore;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(
        name = "status",
        description = "Lag (objects, bytes, oldest pending), region RPO, throughput and errors per region, and "
                + "whether its replicator is alive (its heartbeat) with the progress of the pass under way.")
public final class ReplicationStatusCommand implements Callable<Integer> {
    /** A region's measured status, and its replicator's last heartbeat. */
    record RegionReport(@JsonUnwrapped Replicator.Status status, boolean replicatorAlive, Heartbeat replicator) {}

    @Mixin
    ReplicationTarget target;

    @Mixin
    OutputOptions output;

    @Override
    public Integer call() throws Exception {
        ReplicationConfig c = target.config();
        BlobStore primary = target.primary();
        List<RegionReport> out = new ArrayList<>();
        Instant now = Instant.now();
        List<String> failures = new ArrayList<>();
        for (ReplicationConfig.Region r : target.selected(c)) {
            Replicator.Status live;
            try {
                live = new Replicator(primary, RepositoryAccess.openRegion(r, () -> false), r).liveStatus();
            } catch (IOException | RuntimeException e) {
                // a region that cannot be listed is exactly what status must show, next to the others
                failures.add(r.name() + ": cannot measure (" + e.getMessage() + ")");
                continue;
            }
            // lag and RPO measured now; throughput and errors from the running replicator's last report
            Replicator.Status last = Replicator.lastStatus(primary, r.name()).orElse(null);
            Heartbeat beat = Heartbeat.read(primary, r.name()).orElse(null);
            Replicator.Status status = new Replicator.Status(
                    live.name(),
                    live.region(),
                    live.uri(),
                    live.mode(),
                    Replicator.control(primary, r.name()),
                    live.measuredAt(),
                    live.lagObjects(),
                    live.lagBytes(),
                    live.oldestPendingSeconds(),
                    live.newestWalTime(),
                    live.rpoSeconds(),
                    last == null ? 0 : last.copiedObjects(),
                    last == null ? 0 : last.copiedBytes(),
                    last == null ? 0 : last.bytesPerSecond(),
                    last == null ? 0 : last.errors(),
                    last == null ? null : last.lastError(),
                    last == null ? null : last.lastPassEnd(),
                    live.retainedObjects(),
                    live.retainedUntil());
            out.add(new RegionReport(status, beat != null && beat.alive(now), beat));
        }
        if (output.json()) {
            output.printJson(Map.of("regions", out, "unreachable", failures));
            return failures.isEmpty() ? 0 : 1;
        }
        System.out.printf(
                "%-12s %-12s %-6s %-8s %-10s %9s %12s %12s %10s %12s %7s%n",
                "REGION",
                "LOCATION",
                "MODE",
                "STATE",
                "REPLICATOR",
                "LAG OBJ",
                "LAG BYTES",
                "OLDEST (s)",
                "RPO (s)",
                "RATE (B/s)",
                "ERRORS");
        for (RegionReport report : out) {
            Replicator.Status s = report.status();
            System.out.printf(
                    "%-12s %-12s %-6s %-8s %-10s %9d %12d %12s %10s %12.0f %7d%n",
                    s.name(),
                    s.region() == null ? "-" : s.region(),
                    s.mode(),
                    s.state().name().toLowerCase(),
                    report.replicator() == null ? "never ran" : report.replicatorAlive() ? "alive" : "gone",
                    s.lagObjects(),
                    s.lagBytes(),
                    s.oldestPendingSeconds() == null ? "-" : String.format("%.1f", s.oldestPendingSeconds()),
                    s.rpoSeconds() == null ? "-" : String.format("%.1f", s.rpoSeconds()),
                    s.bytesPerSecond(),
                    s.errors());
            describe(report.replicator(), now);
            if (s.lastError() != null) {
                System.out.println("  last error: " + s.lastError());
            }
            if (s.retainedObjects() > 0) {
                System.out.println("  write-once: " + s.retainedObjects() + " objects the primary no longer has stay "
                        + "until their retention passes (the first at " + s.retainedUntil() + ")");
            }
        }
        failures.forEach(System.out::println);
        return failures.isEmpty() ? 0 : 1;
    }

    /** Who replicates (host, pid, last beat) and the pass under way, or why it is gone. */
    private static void describe(Heartbeat b, Instant now) {
        if (b == null) {
            return;
        }
        String who = b.host() + " pid " + b.pid() + ", last heartbeat " + age(b.at(), now) + " ago";
        if (b.exitedAt() != null) {
            System.out.println("  replicator: exited " + age(b.exitedAt(), now) + " ago (" + b.exitReason() + "; "
                    + b.host() + " pid " + b.pid() + ")");
        } else if (!b.alive(now)) {
            System.out.println("  replicator: no heartbeat for over " + Heartbeat.ALIVE_WITHIN.toSeconds() + " s ("
                    + who + "): not running, or cannot write to the primary");
        } else {
            System.out.println("  replicator: " + who);
        }
        Heartbeat.Progress p = b.progress();
        if (p != null && b.alive(now)) {
            System.out.printf(
                    "  copying: %d of %d objects, %s of %s, %s/s, %s (pass started %s ago)%n",
                    p.objectsDone(),
                    p.objectsTotal(),
                    Sizes.format(p.bytesDone()),
                    Sizes.format(p.bytesTotal()),
                    Sizes.format((long) p.bytesPerSecond()),
                    p.etaSeconds() == null ? "no estimate yet" : "about " + Math.round(p.etaSeconds()) + " s left",
                    age(p.startedAt(), now));
        }
    }

    private static String age(Instant then, Instant now) {
        long s = Math.max(0, Duration.between(then, now).toSeconds());
        return s < 120 ? s + " s" : s < 7200 ? s / 60 + " min" : s / 3600 + " h";
    }
}
