package dev.lifeboat.cli.commands.replication;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.output.SignalCancellation;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.replication.Replicator;
import dev.lifeboat.replication.RepositoryAccess;
import dev.lifeboat.storage.BlobStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionService;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "run",
        description = "Copy to every selected region continuously (asynchronous regions; synchronous "
                + "ones catch up after failures). Runs until stopped with 'replication stop' or a signal. "
                + "Exits "
                + ReplicationRunCommand.STOPPED
                + " when every selected region is stopped (at start or later), so a supervisor can tell "
                + "(systemd: RestartPreventExitStatus="
                + ReplicationRunCommand.STOPPED
                + ").")
public final class ReplicationRunCommand implements Callable<Integer> {
    /** Exit code: every selected region was stopped with {@code replication stop}. */
    static final int STOPPED = 4;

    /** A signal waits this long for every region's replicator to write its exit heartbeat. */
    private static final Duration EXIT_GRACE = Duration.ofSeconds(10);

    @Mixin
    ReplicationTarget target;

    @Mixin
    OutputOptions output;

    @Option(
            names = "--interval",
            paramLabel = "SECONDS",
            description = "Pause between passes that found nothing to copy. Default: 1.")
    double interval = 1;

    @Option(names = "--once", description = "One pass per region, then exit.")
    boolean once;

    @Option(
            names = "--create",
            description = "First create each selected region's bucket or container when it does not exist (with the "
                    + "region's own store settings).")
    boolean create;

    @Override
    public Integer call() throws Exception {
        ReplicationConfig c = target.config();
        BlobStore primary = target.primary();
        List<ReplicationConfig.Region> regions = new ArrayList<>();
        for (ReplicationConfig.Region r : target.selected(c)) {
            Replicator.Control control = Replicator.controlRecord(primary, r.name());
            if (control.state() == Replicator.State.STOPPED) {
                System.err.println("region " + r.name() + " is stopped ('replication stop'"
                        + (control.changedAt() == null ? "" : " at " + control.changedAt())
                        + "); 'lifeboat replication resume --region " + r.name() + "' lets it run again");
            } else {
                regions.add(r);
            }
        }
        if (regions.isEmpty()) {
            System.err.println("nothing to replicate: every selected region is stopped");
            return STOPPED;
        }
        if (create) {
            for (ReplicationConfig.Region r : regions) {
                if (RepositoryAccess.openRegion(r, () -> false).createContainer() && !output.json()) {
                    System.out.println(r.name() + ": created " + r.uri() + "'s bucket or container");
                }
            }
        }
        Map<String, Replicator.Pass> passes = new ConcurrentHashMap<>();
        Map<String, Replicator.Exit> exits = new ConcurrentHashMap<>();
        try (SignalCancellation signal = output.cancelOnSignal("signal", EXIT_GRACE);
                ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            Cancellation cancel = signal.cancellation();
            CompletionService<Object> done = new ExecutorCompletionService<>(pool);
            List<Future<?>> runs = new ArrayList<>();
            for (ReplicationConfig.Region r : regions) {
                runs.add(done.submit(() -> {
                    BlobStore secondary = RepositoryAccess.openRegion(r, cancel::isCancelled);
                    Replicator rep = new Replicator(primary, secondary, r);
                    if (once) {
                        Replicator.Pass p = rep.pass(cancel);
                        passes.put(r.name(), p);
                        if (!output.json()) {
                            System.out.printf(
                                    "%s: copied %d objects (%d bytes), deleted %d%n",
                                    r.name(), p.copied(), p.copiedBytes(), p.deleted());
                        }
                    } else {
                        exits.put(r.name(), rep.run(Duration.ofMillis((long) (interval * 1000)), cancel));
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
        }
        if (output.json() && once) {
            Map<String, Replicator.Pass> byRegion = new LinkedHashMap<>();
            regions.forEach(r -> byRegion.put(r.name(), passes.get(r.name())));
            output.printJson(Map.of("regions", byRegion));
        }
        if (!once && exits.size() == regions.size() && !exits.containsValue(Replicator.Exit.CANCELLED)) {
            System.err.println("every selected region was stopped ('replication stop'); exiting");
            return STOPPED;
        }
        return 0;
    }
}
