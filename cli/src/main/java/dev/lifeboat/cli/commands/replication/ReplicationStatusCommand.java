package dev.lifeboat.cli.commands.replication;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.replication.Replicator;
import dev.lifeboat.replication.RepositoryAccess;
import dev.lifeboat.storage.BlobStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(
        name = "status",
        description = "Lag (objects, bytes, oldest pending), region RPO, throughput and errors per region.")
public final class ReplicationStatusCommand implements Callable<Integer> {
    @Mixin
    ReplicationTarget target;

    @Mixin
    OutputOptions output;

    @Override
    public Integer call() throws Exception {
        ReplicationConfig c = target.config();
        BlobStore primary = target.primary();
        List<Replicator.Status> out = new ArrayList<>();
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
            out.add(new Replicator.Status(
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
                    last == null ? null : last.lastPassEnd()));
        }
        if (output.json()) {
            output.printJson(Map.of("regions", out, "unreachable", failures));
            return failures.isEmpty() ? 0 : 1;
        }
        System.out.printf(
                "%-12s %-12s %-6s %-8s %9s %12s %12s %10s %12s %7s%n",
                "REGION",
                "LOCATION",
                "MODE",
                "STATE",
                "LAG OBJ",
                "LAG BYTES",
                "OLDEST (s)",
                "RPO (s)",
                "RATE (B/s)",
                "ERRORS");
        for (Replicator.Status s : out) {
            System.out.printf(
                    "%-12s %-12s %-6s %-8s %9d %12d %12s %10s %12.0f %7d%n",
                    s.name(),
                    s.region() == null ? "-" : s.region(),
                    s.mode(),
                    s.state().name().toLowerCase(),
                    s.lagObjects(),
                    s.lagBytes(),
                    s.oldestPendingSeconds() == null ? "-" : String.format("%.1f", s.oldestPendingSeconds()),
                    s.rpoSeconds() == null ? "-" : String.format("%.1f", s.rpoSeconds()),
                    s.bytesPerSecond(),
                    s.errors());
            if (s.lastError() != null) {
                System.out.println("  last error: " + s.lastError());
            }
        }
        failures.forEach(System.out::println);
        return failures.isEmpty() ? 0 : 1;
    }
}
