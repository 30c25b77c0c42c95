package dev.lifeboat.controller.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.controller.agents.AgentRegistry;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.controller.jobs.JobStore;
import dev.lifeboat.controller.policy.Inventory;
import dev.lifeboat.controller.policy.Inventory.ManagedDatabase;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Each database's RPO and RTO against its tier, from measurements only:
 * RPO per region is what the agent's probe measured (now − commit time of the oldest WAL not yet durable there), aged
 * by
 * the time since the sample when the agent stops reporting; RTO = restore size of the newest backup ÷ the restore
 * throughput of the newest drill (or restore) + WAL since that backup ÷ that drill's replay rate.
 */
public final class SlaStatus {
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final String RPO_METRIC = "lifeboat_rpo_seconds";
    public static final String DURABLE_LSN_METRIC = "lifeboat_wal_durable_lsn";
    public static final String CURRENT_LSN_METRIC = "lifeboat_wal_current_lsn";
    public static final String REPLICATOR_AGE_METRIC = "lifeboat_replicator_heartbeat_age_seconds";
    public static final String REPLICATOR_EXITED_METRIC = "lifeboat_replicator_exited";
    /** No heartbeat for this long: the region's replicator is gone (the replicator beats every 5 s). */
    public static final double REPLICATOR_ALIVE_WITHIN_SECONDS = 30;

    public static final List<String> BACKUP_TYPES = List.of("BACKUP_FULL", "BACKUP_INCREMENTAL", "BACKUP_DIFFERENTIAL");

    /**
     * @param lagBytes WAL the server has written that is not yet durable in the region (its write position minus the
     *                 region's newest durable WAL, from the same probe; null until both are measured)
     * @param replicator the region's continuous replicator ({@code replication run}) as its heartbeat shows it; null
     *                   for the primary and where none ever ran
     */
    public record RegionRpo(
            String region,
            boolean primary,
            Double rpoSeconds,
            Long lagBytes,
            Instant measuredAt,
            boolean stale,
            boolean meets,
            Replicator replicator) {
        public RegionRpo(
                String region,
                boolean primary,
                Double rpoSeconds,
                Long lagBytes,
                Instant measuredAt,
                boolean stale,
                boolean meets) {
            this(region, primary, rpoSeconds, lagBytes, measuredAt, stale, meets, null);
        }
    }

    /**
     * A region's replicator: seconds since its last heartbeat (at the agent's last probe), whether that was its exit.
     *
     * @param state {@code alive}, {@code exited} (it stopped: a {@code replication stop}, a signal) or {@code gone} (no
     *              beat for {@link #REPLICATOR_ALIVE_WITHIN_SECONDS}: killed, hung, or cut off from the primary)
     */
    public record Replicator(double heartbeatAgeSeconds, boolean exited, String state) {}

    public record RtoEstimate(
            Double seconds,
            Long restoreBytes,
            Double restoreBytesPerSecond,
            Long walBytes,
            Double replayBytesPerSecond,
            String measuredBy,
            Instant measuredAt) {}

    public record DatabaseStatus(
            String database,
            String agent,
            String agentState,
            String region,
            String policy,
            String tier,
            long rpoTargetSeconds,
            long rtoTargetSeconds,
            Double rpoSeconds,
            boolean rpoMet,
            List<RegionRpo> regions,
            RtoEstimate rto,
            boolean rtoMet,
            boolean compliant,
            Instant lastBackupAt,
            String lastBackupId,
            List<String> problems) {}

    private final Inventory inventory;
    private final AgentRegistry agents;
    private final JobStore jobs;
    private final MetricStore metrics;

    public SlaStatus(Inventory inventory, AgentRegistry agents, JobStore jobs, MetricStore metrics) {
        this.inventory = inventory;
        this.agents = agents;
        this.jobs = jobs;
        this.metrics = metrics;
    }

    private static final List<String> THROUGHPUT_TYPES = List.of("DR_DRILL", "RESTORE", "RESTORE_PITR");
    private static final int THROUGHPUT_JOBS = 20;

    public List<DatabaseStatus> all() {
        List<AgentRegistry.AgentInfo> known = agents.list(); // once for all databases
        // two queries for all databases, not two per database: the overview and the scrape read every one
        Map<String, List<JobRecord>> backups = jobs.newestPerDatabase(BACKUP_TYPES, true, 1);
        Map<String, List<JobRecord>> restores = jobs.newestPerDatabase(THROUGHPUT_TYPES, false, THROUGHPUT_JOBS);
        List<DatabaseStatus> out = new ArrayList<>();
        for (ManagedDatabase db : inventory.databases()) {
            out.add(of(
                    db,
                    known,
                    backups.getOrDefault(db.name(), List.of()).stream().findFirst(),
                    restores.getOrDefault(db.name(), List.of())));
        }
        return out;
    }

    public DatabaseStatus of(String database) {
        return of(
                inventory.require(database),
                agents.list(),
                jobs.latestCompleted(database, BACKUP_TYPES),
                jobs.ended(database, THROUGHPUT_TYPES, THROUGHPUT_JOBS));
    }

    /** {@code lastBackup}: the newest completed backup; {@code restoresAndDrills}: the newest ended ones. */
    private DatabaseStatus of(
            ManagedDatabase db,
            List<AgentRegistry.AgentInfo> known,
            Optional<JobRecord> lastBackup,
            List<JobRecord> restoresAndDrills) {
        Instant now = Instant.now();
        List<String> problems = new ArrayList<>();
        Optional<AgentRegistry.AgentInfo> agent =
                known.stream().filter(a -> a.id().equals(db.agent())).findFirst();
        String agentState = agent.map(a -> a.connected() ? "connected" : a.gone() ? "gone" : "disconnected")
                .orElse("never seen");
        String primaryRegion = agent.map(AgentRegistry.AgentInfo::region).orElse(null);
        if (!agentState.equals("connected")) {
            problems.add("agent " + db.agent() + " is " + agentState);
        }

        // RPO per region; samples get older when the agent stops reporting, and the RPO with them
        Duration staleAfter = agents.heartbeat().multipliedBy(3);
        Map<String, RegionRpo> regions = new LinkedHashMap<>();
        long target = db.policy().rpo().toSeconds();
        for (MetricStore.Sample s : metrics.find(RPO_METRIC, Map.of("database", db.name()))) {
            String region = s.labels().getOrDefault("region", "?");
            if (!db.regions().isEmpty() && !db.regions().contains(region) && !region.equals(primaryRegion)) {
                continue;
            }
            Duration age = Duration.between(s.at(), now);
            boolean stale = age.compareTo(staleAfter) > 0;
            double rpo = s.value() + (stale ? age.toMillis() / 1000.0 : 0);
            regions.put(
                    region,
                    new RegionRpo(
                            region,
                            region.equals(primaryRegion),
                            rpo,
                            lagBytes(db.name(), region),
                            s.at(),
                            stale,
                            rpo <= target,
                            replicator(db.name(), region, age)));
        }
        for (String wanted : db.regions()) {
            if (!regions.containsKey(wanted)) {
                regions.put(wanted, new RegionRpo(wanted, wanted.equals(primaryRegion), null, null, null, true, false));
                problems.add("no RPO measured in region " + wanted);
            }
        }
        Double rpo = null;
        boolean rpoMet = !regions.isEmpty();
        for (RegionRpo r : regions.values()) {
            if (r.rpoSeconds() == null) {
                rpoMet = false;
                continue;
            }
            rpo = rpo == null ? r.rpoSeconds() : Math.max(rpo, r.rpoSeconds());
            if (!r.meets()) {
                rpoMet = false;
                problems.add(String.format("RPO in %s is %.0f s, target %d s", r.region(), r.rpoSeconds(), target));
            }
        }
        if (regions.isEmpty()) {
            problems.add("no RPO measured yet");
        }

        RtoEstimate rto = rto(db, lastBackup, restoresAndDrills, primaryRegion, problems);
        boolean rtoMet =
                rto.seconds() != null && rto.seconds() <= db.policy().rto().toSeconds();
        if (rto.seconds() != null && !rtoMet) {
            problems.add(String.format(
                    "RTO estimate %.0f s exceeds the target %d s",
                    rto.seconds(), db.policy().rto().toSeconds()));
        }
        return new DatabaseStatus(
                db.name(),
                db.agent(),
                agentState,
                primaryRegion,
                db.policy().name(),
                db.policy().tier().name(),
                target,
                db.policy().rto().toSeconds(),
                rpo,
                rpoMet,
                List.copyOf(regions.values()),
                rto,
                rtoMet,
                rpoMet && rtoMet,
                lastBackup.map(JobRecord::endedAt).orElse(null),
                lastBackup
                        .map(j -> field(j.resultJson(), "id"))
                        .map(JsonNode::asText)
                        .orElse(null),
                problems);
    }

    private RtoEstimate rto(
            ManagedDatabase db,
            Optional<JobRecord> lastBackup,
            List<JobRecord> restoresAndDrills,
            String primaryRegion,
            List<String> problems) {
        if (lastBackup.isEmpty()) {
            problems.add("no completed backup");
            return new RtoEstimate(null, null, null, null, null, null, null);
        }
        Long restoreBytes = longField(lastBackup.get().resultJson(), "size");
        // the newest drill or restore that measured its throughput (a restore of a single file may not have); a drill
        // that failed its objectives or validation still measured them, and a slow one matters most
        Optional<JobRecord> drill = restoresAndDrills.stream()
                .filter(j -> longField(j.resultJson(), "restore_bytes") != null
                        && doubleField(j.resultJson(), "restore_seconds") != null)
                .findFirst();
        if (drill.isEmpty()) {
            problems.add("no drill or restore has measured restore throughput yet");
            return new RtoEstimate(null, restoreBytes, null, null, null, null, null);
        }
        String r = drill.get().resultJson();
        double restoreRate = rate(longField(r, "restore_bytes"), doubleField(r, "restore_seconds"));
        Long replayBytes = longField(r, "wal_replay_bytes");
        double replayRate = rate(replayBytes, doubleField(r, "replay_seconds"));
        Long walBytes = walSince(db, lastBackup.get(), primaryRegion);
        if (restoreBytes == null || restoreRate <= 0) {
            problems.add("restore throughput unknown");
            return new RtoEstimate(
                    null,
                    restoreBytes,
                    null,
                    walBytes,
                    null,
                    drill.get().id(),
                    drill.get().endedAt());
        }
        double seconds = restoreBytes / restoreRate;
        if (walBytes != null && walBytes > 0) {
            if (replayRate > 0) {
                seconds += walBytes / replayRate;
            } else {
                problems.add("WAL replay rate unknown: RTO counts the restore only");
            }
        }
        return new RtoEstimate(
                seconds,
                restoreBytes,
                restoreRate,
                walBytes,
                replayRate > 0 ? replayRate : null,
                drill.get().id(),
                drill.get().endedAt());
    }

    /** The region's replicator as the agent last read its heartbeat, aged by how long ago that was. */
    private Replicator replicator(String database, String region, Duration sampleAge) {
        Map<String, String> labels = Map.of("database", database, "region", region);
        Optional<Double> age = metrics.find(REPLICATOR_AGE_METRIC, labels).stream()
                .map(MetricStore.Sample::value)
                .filter(Double::isFinite)
                .findFirst();
        if (age.isEmpty()) {
            return null;
        }
        boolean exited = metrics.find(REPLICATOR_EXITED_METRIC, labels).stream()
                .map(MetricStore.Sample::value)
                .anyMatch(v -> v == 1.0);
        double now = age.get() + sampleAge.toMillis() / 1000.0;
        String state = exited ? "exited" : now <= REPLICATOR_ALIVE_WITHIN_SECONDS ? "alive" : "gone";
        return new Replicator(now, exited, state);
    }

    private Long lagBytes(String database, String region) {
        Optional<Double> written = metrics.find(CURRENT_LSN_METRIC, Map.of("database", database)).stream()
                .map(MetricStore.Sample::value)
                .filter(Double::isFinite)
                .findFirst();
        Optional<Double> durable =
                metrics.find(DURABLE_LSN_METRIC, Map.of("database", database, "region", region)).stream()
                        .map(MetricStore.Sample::value)
                        .filter(Double::isFinite)
                        .findFirst();
        if (written.isEmpty() || durable.isEmpty()) {
            return null;
        }
        return Math.max(0, written.get().longValue() - durable.get().longValue());
    }

    /** WAL bytes between the backup's stop LSN and the newest durable WAL in the primary region. */
    private Long walSince(ManagedDatabase db, JobRecord backup, String primaryRegion) {
        JsonNode stop = field(backup.resultJson(), "stopLsn");
        if (stop == null) {
            return null;
        }
        Map<String, String> labels = primaryRegion == null
                ? Map.of("database", db.name())
                : Map.of("database", db.name(), "region", primaryRegion);
        return metrics.find(DURABLE_LSN_METRIC, labels).stream()
                .findFirst()
                .map(s -> Math.max(0, (long) s.value() - parseLsn(stop.asText())))
                .orElse(null);
    }

    static long parseLsn(String lsn) {
        int slash = lsn.indexOf('/');
        return (Long.parseLong(lsn.substring(0, slash), 16) << 32) | Long.parseLong(lsn.substring(slash + 1), 16);
    }

    private static double rate(Long bytes, Double seconds) {
        return bytes == null || seconds == null || seconds <= 0 ? 0 : bytes / seconds;
    }

    private static JsonNode field(String json, String name) {
        if (json == null) {
            return null;
        }
        try {
            JsonNode n = JSON.readTree(json).get(name);
            return n == null || n.isNull() ? null : n;
        } catch (Exception e) {
            return null;
        }
    }

    private static Long longField(String json, String name) {
        JsonNode n = field(json, name);
        return n == null || !n.isNumber() ? null : n.asLong();
    }

    private static Double doubleField(String json, String name) {
        JsonNode n = field(json, name);
        return n == null || !n.isNumber() ? null : n.asDouble();
    }
}
