package dev.lifeboat.agent;

import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.replication.Replicator;
import dev.lifeboat.replication.RepositoryAccess;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStores;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * REPLICATE: one pass of the asynchronous replicator per region, as {@code lifeboat replication run --once} does.
 * Params: {@code region} (comma-separated names; default every region of the database's replication config).
 * Result: per region what the pass copied and deleted; a region that failed ends the job FAILED (the others' passes
 * are still in the result). With {@code control} ({@code pause}, {@code resume}, {@code stop}) it runs no pass but sets
 * the control state the regions' replicators follow, as {@code lifeboat replication pause|resume|stop} does.
 */
final class ReplicateJob implements JobExecutor {
    @Override
    public Prepared prepare(JobRequest request, AgentConfig.Database db, AgentConfig config) {
        JobParams p = new JobParams("REPLICATE", request.getParamsMap(), Set.of("region", "control"));
        Replicator.State control = control(p);
        if (db.replication() == null) {
            throw new IllegalArgumentException("REPLICATE: database " + db.name() + " has no replication config "
                    + "(replication: FILE in the agent config)");
        }
        ReplicationConfig rc;
        try {
            rc = ReplicationConfig.load(db.replication());
        } catch (IOException e) {
            throw new IllegalArgumentException(
                    "REPLICATE: cannot read replication config " + db.replication() + ": " + e.getMessage());
        }
        List<ReplicationConfig.Region> regions = new ArrayList<>();
        if (p.has("region")) {
            for (String name : p.string("region", "").split(",")) {
                try {
                    regions.add(rc.region(name.strip()));
                } catch (IllegalArgumentException e) {
                    throw p.error("region", e.getMessage());
                }
            }
        } else {
            regions.addAll(rc.regions());
        }
        return ctx -> {
            // replication copies objects as they are: it never needs the repository key
            BlobStore primary = BlobStores.open(db.repo());
            if (control != null) {
                Map<String, Object> states = new LinkedHashMap<>();
                for (ReplicationConfig.Region r : regions) {
                    Replicator.setControl(primary, r.name(), control);
                    states.put(r.name(), control.name().toLowerCase(Locale.ROOT));
                }
                ctx.message("replicate", "regions " + states);
                return Map.of("control", states);
            }
            Map<String, Object> passes = new LinkedHashMap<>();
            List<String> failures = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                Map<ReplicationConfig.Region, Future<Replicator.Pass>> runs = new LinkedHashMap<>();
                for (ReplicationConfig.Region r : regions) {
                    runs.put(r, pool.submit(() -> {
                        BlobStore secondary = RepositoryAccess.openRegion(r, ctx.cancellation()::isCancelled);
                        Replicator.Pass pass = new Replicator(primary, secondary, r).pass(ctx.cancellation());
                        ctx.message(
                                "replicate",
                                r.name() + ": copied " + pass.copied() + " objects (" + pass.copiedBytes()
                                        + " bytes), deleted " + pass.deleted());
                        return pass;
                    }));
                }
                for (var e : runs.entrySet()) {
                    try {
                        Replicator.Pass pass = e.getValue().get();
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("region", e.getKey().region());
                        m.put("uri", e.getKey().uri());
                        m.put("copied", pass.copied());
                        m.put("copiedBytes", pass.copiedBytes());
                        m.put("deleted", pass.deleted());
                        m.put("skipped", pass.skipped());
                        m.put("seconds", pass.seconds());
                        passes.put(e.getKey().name(), m);
                    } catch (ExecutionException ex) {
                        ctx.cancellation().throwIfCancelled();
                        failures.add(e.getKey().name() + ": " + JobManager.describe(ex.getCause()));
                        passes.put(e.getKey().name(), Map.of("error", JobManager.describe(ex.getCause())));
                    }
                }
            }
            ctx.cancellation().throwIfCancelled();
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("regions", passes);
            if (!failures.isEmpty()) {
                throw JobOutcomeException.failed("replication failed for " + String.join("; ", failures), out);
            }
            return out;
        };
    }

    private static Replicator.State control(JobParams p) {
        if (!p.has("control")) {
            return null;
        }
        return switch (p.string("control", "").strip().toLowerCase(Locale.ROOT)) {
            case "pause" -> Replicator.State.PAUSED;
            case "resume", "run" -> Replicator.State.RUNNING;
            case "stop" -> Replicator.State.STOPPED;
            default -> throw p.error("control", "must be pause, resume or stop, got '" + p.string("control", "") + "'");
        };
    }
}
