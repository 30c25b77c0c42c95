package dev.lifeboat.engine.postgres;

import dev.lifeboat.repository.Snapshot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * Which line of history a data directory continues. PostgreSQL's system identifier is the same in a cluster and every
 * copy restored from it, so it cannot tell production from a restored copy; every Lifeboat restore therefore writes
 * a fresh {@code clusterId} into the restore marker ({@link #MARKER}, never backed up). A directory without a marker
 * is the original cluster (or a physical standby of it) and has the id {@link #ORIGIN}.
 * <p>
 * Backups record the id of the cluster they were taken from ({@code engineInfo.clusterId}), and WAL pushed into
 * the archive records it per timeline, so an incremental never builds on another lineage's backup and a copy's
 * timeline is never presented as the source's history.
 *
 * @param systemIdentifier PostgreSQL's system identifier (pg_control)
 * @param clusterId        {@link #ORIGIN}, or the id the restore that made this directory wrote
 * @param restoredFrom     the backup this directory was restored from (null for the origin)
 * @param sourceClusterId  the clusterId of the cluster that backup was taken from (null for the origin)
 * @param restoredAt       when the restore ran (null for the origin)
 */
public record ClusterIdentity(
        long systemIdentifier, String clusterId, String restoredFrom, String sourceClusterId, Instant restoredAt) {
    /** The restore marker file in PGDATA. */
    public static final String MARKER = "lifeboat.restored";
    /** The cluster id of a data directory no Lifeboat restore made. */
    public static final String ORIGIN = "origin";

    public boolean isOrigin() {
        return ORIGIN.equals(clusterId);
    }

    /** "the original cluster" or "a copy restored from backup X at T (cluster id …)", for messages. */
    public String describe() {
        return isOrigin()
                ? "the original cluster (system identifier " + Long.toUnsignedString(systemIdentifier) + ")"
                : "a copy restored from backup " + restoredFrom + " at " + restoredAt + " (cluster id " + clusterId
                        + ")";
    }

    /** Reads the identity of the cluster in {@code pgdata} (its pg_control and restore marker). */
    public static ClusterIdentity of(Path pgdata) throws IOException {
        long systemId = new PgDataDirectory(pgdata).systemIdentifier();
        String marker;
        try {
            marker = Files.readString(pgdata.resolve(MARKER));
        } catch (NoSuchFileException e) {
            marker = null;
        }
        return parse(systemId, marker);
    }

    /** The identity of a cluster with {@code systemId} whose restore marker reads {@code marker} (null: none). */
    public static ClusterIdentity parse(long systemId, String marker) {
        if (marker == null) {
            return new ClusterIdentity(systemId, ORIGIN, null, null, null);
        }
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : marker.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq).strip(), line.substring(eq + 1).strip());
            }
        }
        Instant at = null;
        try {
            at = m.containsKey("restoredAt") ? Instant.parse(m.get("restoredAt")) : null;
        } catch (DateTimeParseException e) {
            // keep null: the id is what matters
        }
        // a marker written before restores carried an id: a copy all the same, identified by its restore time
        String id = m.getOrDefault(
                "clusterId",
                "restored-" + m.getOrDefault("backup", "unknown") + "-" + m.getOrDefault("restoredAt", ""));
        return new ClusterIdentity(systemId, id, m.get("backup"), m.get("sourceClusterId"), at);
    }

    /** The marker a restore writes: a new cluster id for the copy, and where it came from. */
    public static String newMarker(String backupId, String sourceClusterId, Instant restoredAt) {
        return "backup=" + backupId + "\nrestoredAt=" + restoredAt + "\nclusterId=" + UUID.randomUUID()
                + "\nsourceClusterId=" + (sourceClusterId == null ? ORIGIN : sourceClusterId) + "\n";
    }

    /** The clusterId a backup manifest records ({@code engineInfo.clusterId}); backups made before it existed are the
     * origin's. */
    public static String ofBackup(Snapshot backup) {
        return PostgresBackupInfo.of(backup).clusterId();
    }
}
