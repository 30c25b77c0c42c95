package dev.lifeboat.controller.status;

import dev.lifeboat.controller.drills.DrillReports;
import dev.lifeboat.controller.policy.Inventory;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * The controller's per-database series for Prometheus. Every series exists from the controller's start, before any
 * backup, drill or measurement: a value that is missing reads {@code +Inf} ("never"), so a plain {@code > threshold}
 * rule fires for a database that was never backed up or whose region never received WAL, instead of a series that
 * does not exist and an alert that never fires. RPO and RTO keep {@code NaN} for "unknown" (their targets make the
 * comparison; {@code lifeboat_controller_compliant} is 0 then).
 */
public final class StatusGauges {
    public static final String RPO = "lifeboat_controller_rpo_seconds";
    public static final String RPO_TARGET = "lifeboat_controller_rpo_target_seconds";
    public static final String RTO = "lifeboat_controller_rto_estimate_seconds";
    public static final String RTO_TARGET = "lifeboat_controller_rto_target_seconds";
    public static final String COMPLIANT = "lifeboat_controller_compliant";
    public static final String SINCE_LAST_BACKUP = "lifeboat_controller_since_last_backup_seconds";
    public static final String SINCE_LAST_DRILL = "lifeboat_controller_since_last_drill_seconds";
    public static final String WAL_ARCHIVE_LAG = "lifeboat_controller_wal_archive_lag_seconds";

    private record Snapshot(
            Map<String, SlaStatus.DatabaseStatus> status, Map<String, DrillReports.Summary> drills, long at) {}

    private final MeterRegistry registry;
    private final SlaStatus status;
    private final DrillReports drills;
    private final Set<String> regionSeries = ConcurrentHashMap.newKeySet();
    private volatile Snapshot last;

    public StatusGauges(MeterRegistry registry, Inventory inventory, SlaStatus status, DrillReports drills) {
        this.registry = registry;
        this.status = status;
        this.drills = drills;
        for (Inventory.ManagedDatabase d : inventory.databases()) {
            String db = d.name();
            gauge(
                    RPO,
                    db,
                    "Measured RPO: the worst of the database's regions (NaN: unknown)",
                    s -> nan(s.rpoSeconds()));
            gauge(RPO_TARGET, db, "The RPO target of the database's tier", s -> s.rpoTargetSeconds());
            gauge(
                    RTO,
                    db,
                    "Estimated RTO from the newest backup and the newest drill's rates (NaN: unknown)",
                    s -> nan(s.rto().seconds()));
            gauge(RTO_TARGET, db, "The RTO target of the database's tier", s -> s.rtoTargetSeconds());
            gauge(COMPLIANT, db, "1 when both RPO and RTO are measured and within target", s -> s.compliant() ? 1 : 0);
            gauge(
                    SINCE_LAST_BACKUP,
                    db,
                    "Seconds since the newest completed backup ended (+Inf: never)",
                    s -> since(s.lastBackupAt()));
            Gauge.builder(SINCE_LAST_DRILL, this, g -> {
                        DrillReports.Summary drill = g.snapshot().drills().get(db);
                        return since(drill == null ? null : drill.createdAt());
                    })
                    .description("Seconds since the newest DR drill report was kept (+Inf: never)")
                    .tag("database", db)
                    .strongReference(true) // the registry alone holds this object: keep it from being collected
                    .register(registry);
            for (String region : d.regions()) {
                registerRegion(db, region);
            }
        }
    }

    /**
     * Adds the archive-lag series of regions first seen in a status (a database's primary region is known once its
     * agent has connected). Called from the evaluator's thread, never during a scrape.
     */
    public void registerNewRegions() {
        for (SlaStatus.DatabaseStatus s : snapshot().status().values()) {
            for (SlaStatus.RegionRpo r : s.regions()) {
                registerRegion(s.database(), r.region());
            }
        }
    }

    private void registerRegion(String database, String region) {
        if (!regionSeries.add(database + '\0' + region)) {
            return;
        }
        Gauge.builder(WAL_ARCHIVE_LAG, this, g -> {
                    SlaStatus.DatabaseStatus s = g.snapshot().status().get(database);
                    SlaStatus.RegionRpo r = s == null
                            ? null
                            : s.regions().stream()
                                    .filter(x -> x.region().equals(region))
                                    .findFirst()
                                    .orElse(null);
                    return r == null || r.rpoSeconds() == null ? Double.POSITIVE_INFINITY : r.rpoSeconds();
                })
                .description("Age of the oldest commit not yet durable in the region (0: caught up; +Inf: never"
                        + " measured); aged by the wall clock when the agent stops reporting")
                .tags("database", database, "region", region)
                .strongReference(true)
                .register(registry);
    }

    private void gauge(String name, String database, String help, ToDoubleFunction<SlaStatus.DatabaseStatus> value) {
        Gauge.builder(name, this, g -> {
                    SlaStatus.DatabaseStatus s = g.snapshot().status().get(database);
                    return s == null ? Double.NaN : value.applyAsDouble(s);
                })
                .description(help)
                .tag("database", database)
                .strongReference(true)
                .register(registry);
    }

    /** One status computation (and one drill query) serves every series of a scrape. */
    private synchronized Snapshot snapshot() {
        Snapshot s = last;
        if (s == null || System.nanoTime() - s.at() > TimeUnit.SECONDS.toNanos(1)) {
            Map<String, SlaStatus.DatabaseStatus> byName = new HashMap<>();
            for (SlaStatus.DatabaseStatus st : status.all()) {
                byName.put(st.database(), st);
            }
            s = new Snapshot(byName, drills.newestPerDatabase(), System.nanoTime());
            last = s;
        }
        return s;
    }

    private static double since(Instant at) {
        return at == null
                ? Double.POSITIVE_INFINITY
                : Duration.between(at, Instant.now()).toMillis() / 1000.0;
    }

    private static double nan(Double d) {
        return d == null ? Double.NaN : d;
    }
}
