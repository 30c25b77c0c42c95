package dev.lifeboat.cli;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.replication.Replicator;
import dev.lifeboat.replication.RepositoryAccess;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStores;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionService;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code lifeboat replication run|status|pause|resume|stop|verify}: copies of the repository in other regions. */
@Command(
        name = "replication",
        description = "Replicate the repository to the regions of the replication config.",
        subcommands = {
            ReplicationCommand.Run.class,
            ReplicationCommand.Status.class,
            ReplicationCommand.Pause.class,
            ReplicationCommand.Resume.class,
            ReplicationCommand.Stop.class,
            ReplicationCommand.Verify.class
        })
final class ReplicationCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Options of every replication subcommand: the primary repository, the config, the regions to act on. */
    static final class Target {
        @Mixin
        RepoOptions repo;

        @Option(
                names = "--region",
                paramLabel = "NAME",
                description = "Only this region (repeatable). Default: every region.")
        List<String> regions;

        ReplicationConfig config() throws IOException {
            if (repo.replication == null) {
                throw new IllegalArgumentException(
                        "no replication config: pass --replication FILE or set LIFEBOAT_REPLICATION");
            }
            return ReplicationConfig.load(repo.replication);
        }

        List<ReplicationConfig.Region> selected(ReplicationConfig c) {
            if (regions == null || regions.isEmpty()) {
                return c.regions();
            }
            return regions.stream().map(c::region).toList();
        }

        /** The primary alone: replication reads and writes objects, it never needs the repository key. */
        BlobStore primary() {
            return BlobStores.open(repo.repo);
        }
    }

    @Command(
            name = "run",
            description = "Copy to every selected region continuously (asynchronous regions; synchronous "
                    + "ones catch up after failures). Runs until stopped with 'replication stop' or a signal.")
    static final class Run implements Callable<Integer> {
        @Mixin
        Target target;

        @Option(
                names = "--interval",
                paramLabel = "SECONDS",
                description = "Pause between passes that found nothing to copy. Default: 1.")
        double interval = 1;

        @Option(names = "--once", description = "One pass per region, then exit.")
        boolean once;

        @Override
        public Integer call() throws Exception {
            ReplicationConfig c = target.config();
            BlobStore primary = target.primary();
            Cancellation cancel = new Cancellation();
            Thread hook = new Thread(() -> cancel.cancel("signal"));
            Runtime.getRuntime().addShutdownHook(hook);
            List<ReplicationConfig.Region> regions = target.selected(c);
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                CompletionService<Object> done = new ExecutorCompletionService<>(pool);
                List<Future<?>> runs = new ArrayList<>();
                for (ReplicationConfig.Region r : regions) {
                    runs.add(done.submit(() -> {
                        BlobStore secondary = RepositoryAccess.openRegion(r, cancel::isCancelled);
                        Replicator rep = new Replicator(primary, secondary, r);
                        if (once) {
                            Replicator.Pass p = rep.pass(cancel);
                            System.out.printf(
                                    "%s: copied %d objects (%d bytes), deleted %d%n",
                                    r.name(), p.copied(), p.copiedBytes(), p.deleted());
                        } else {
                            rep.run(Duration.ofMillis((long) (interval * 1000)), cancel);
                        }
                        return null;
                    }));
                }
                // whichever region ends first with an error ends the command (non-zero, so a supervisor restarts it)
                for (int i = 0; i < runs.size(); i++) {
                    try {
                        done.take().get();
                    } catch (ExecutionException e) {
                        cancel.cancel("a region failed");
                        runs.forEach(f -> f.cancel(true));
                        throw e.getCause() instanceof Exception ex ? ex : e;
                    }
                }
            } finally {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    // already exiting on a signal
                }
            }
            return 0;
        }
    }

    @Command(
            name = "status",
            description = "Lag (objects, bytes, oldest pending), region RPO, throughput and errors per region.")
    static final class Status implements Callable<Integer> {
        @Mixin
        Target target;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

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
                Replicator.Status last =
                        Replicator.lastStatus(primary, r.name()).orElse(null);
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
            if (json) {
                System.out.println(Json.pretty(Map.of("regions", out, "unreachable", failures)));
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

    abstract static class SetState implements Callable<Integer> {
        @Mixin
        Target target;

        abstract Replicator.State state();

        @Override
        public Integer call() throws Exception {
            ReplicationConfig c = target.config();
            BlobStore primary = target.primary();
            for (ReplicationConfig.Region r : target.selected(c)) {
                Replicator.setControl(primary, r.name(), state());
                System.out.println(r.name() + ": " + state().name().toLowerCase());
            }
            return 0;
        }
    }

    @Command(name = "pause", description = "Pause copying to the selected regions (a running replicator waits).")
    static final class Pause extends SetState {
        @Override
        Replicator.State state() {
            return Replicator.State.PAUSED;
        }
    }

    @Command(
            name = "resume",
            description = "Resume copying to the selected regions (also after stop: start 'run' again).")
    static final class Resume extends SetState {
        @Override
        Replicator.State state() {
            return Replicator.State.RUNNING;
        }
    }

    @Command(name = "stop", description = "Make running replicators for the selected regions exit.")
    static final class Stop extends SetState {
        @Override
        Replicator.State state() {
            return Replicator.State.STOPPED;
        }
    }

    @Command(
            name = "verify",
            aliases = "validate",
            description = "Compare each region's inventory and checksums with the primary; exit 3 "
                    + "on differences. --repair copies what is missing or differs and deletes what the primary "
                    + "no longer has.")
    static final class Verify implements Callable<Integer> {
        @Mixin
        Target target;

        @Option(names = "--repair", description = "Fix what validation finds.")
        boolean repair;

        @Option(names = "--json", description = "Print JSON.")
        boolean json;

        @Override
        public Integer call() throws Exception {
            ReplicationConfig c = target.config();
            BlobStore primary = target.primary();
            List<Replicator.Verification> out = new ArrayList<>();
            for (ReplicationConfig.Region r : target.selected(c)) {
                BlobStore secondary = RepositoryAccess.openRegion(r, () -> false);
                out.add(new Replicator(primary, secondary, r).verify(repair, new Cancellation()));
            }
            if (json) {
                System.out.println(Json.pretty(out));
            } else {
                for (Replicator.Verification v : out) {
                    System.out.printf(
                            "%s: %s (%d missing, %d differing, %d extra%s)%n",
                            v.name(),
                            v.ok() ? "in sync" : "DIFFERS",
                            v.missing().size(),
                            v.differing().size(),
                            v.extra().size(),
                            repair ? ", " + v.repaired() + " repaired" : "");
                    v.missing().stream().limit(20).forEach(k -> System.out.println("  missing   " + k));
                    v.differing().stream().limit(20).forEach(k -> System.out.println("  differs   " + k));
                    v.extra().stream().limit(20).forEach(k -> System.out.println("  extra     " + k));
                }
            }
            return out.stream().allMatch(Replicator.Verification::ok) || repair ? 0 : 3;
        }
    }
}
