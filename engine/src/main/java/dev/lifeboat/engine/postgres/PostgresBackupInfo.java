package dev.lifeboat.engine.postgres;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lifeboat.engine.BackupInfo;
import dev.lifeboat.repository.Snapshot;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The PostgreSQL section of a backup manifest ({@code engineInfo}): what {@link PgBackup} learnt from the server and
 * from {@code pg_backup_start}/{@code pg_backup_stop}. Stored as {@code {"engine": "postgresql", "version": 1, …}}
 * with the field names manifests have always used, LSNs in PostgreSQL's text form ({@code 0/2000028}) and the system
 * identifier as an unsigned decimal string (docs/repository-format.md, <i>PostgreSQL content</i>). Manifests written
 * before the section had a version hold the same facts as a map of strings; {@link #fromLegacy} reads those.
 * <p>
 * A value a manifest does not record is 0, null or false (older or hand-made manifests).
 *
 * @param pgVersion            {@code server_version}, e.g. {@code 15.8 (Debian 15.8-1.pgdg120+1)}
 * @param pgVersionNum         {@code server_version_num}, e.g. 150008
 * @param systemIdentifier     pg_control's system identifier (an unsigned 64-bit number)
 * @param walSegmentSize       {@code wal_segment_size} in bytes
 * @param blockSize            {@code block_size} in bytes (the page size)
 * @param dataChecksums        whether the cluster has data checksums
 * @param superuser            the bootstrap superuser (role oid 10), whom validation connects as
 * @param pgdataOwner          the OS user owning PGDATA, who owns a restore made by root
 * @param clusterId            the line of history the backup belongs to ({@link ClusterIdentity}); {@code origin}
 *                             when the manifest does not say (backups made before cluster ids)
 * @param timeline             the timeline of the checkpoint {@code pg_backup_start} began from
 * @param startLsn             {@code pg_backup_start}'s LSN: where replay from this backup starts
 * @param stopLsn              {@code pg_backup_stop}'s LSN: where a restore of it becomes consistent
 * @param startWal             the backup label's {@code START WAL LOCATION} ({@code 0/2000028 (file …)})
 * @param backupLabel          the {@code backup_label} file {@code pg_backup_stop} returned; every restore writes it
 * @param tablespaceMap        the {@code tablespace_map} it returned; null when blank (no tablespaces)
 * @param pagesChecksummed     with data checksums: pages whose checksum the backup checked; null without
 * @param pageChecksumFailures with data checksums, if any failed: {@code <path>: blocks 3, 7; …} (block numbers within
 *                             the file, at most 20 per file); null otherwise
 */
public record PostgresBackupInfo(
        String pgVersion,
        int pgVersionNum,
        long systemIdentifier,
        long walSegmentSize,
        int blockSize,
        boolean dataChecksums,
        String superuser,
        String pgdataOwner,
        String clusterId,
        int timeline,
        long startLsn,
        long stopLsn,
        String startWal,
        String backupLabel,
        String tablespaceMap,
        Long pagesChecksummed,
        String pageChecksumFailures)
        implements BackupInfo {
    /** The engine's name, in manifests and {@link dev.lifeboat.engine.Engines}. */
    public static final String ENGINE = PostgresEngine.NAME;

    /** The version of the section this code writes; it reads every version up to it, and the string maps before. */
    public static final int VERSION = 1;

    public PostgresBackupInfo {
        clusterId = clusterId == null ? ClusterIdentity.ORIGIN : clusterId;
    }

    /** The PostgreSQL section of {@code backup}'s manifest. */
    public static PostgresBackupInfo of(Snapshot backup) {
        if (backup.engineInfo() instanceof PostgresBackupInfo p) {
            return p;
        }
        throw new IllegalArgumentException("backup " + backup.id() + " was taken by the "
                + (backup.engineInfo() == null ? "unknown" : backup.engineInfo().engine())
                + " engine, not by PostgreSQL");
    }

    @Override
    public String engine() {
        return ENGINE;
    }

    @Override
    public int version() {
        return VERSION;
    }

    @Override
    public String serverVersion() {
        return pgVersion;
    }

    /** The server's major version as its version string begins ({@code 15} of {@code 15.8}), or {@code otherwise}. */
    public String majorVersion(String otherwise) {
        return (pgVersion == null ? otherwise : pgVersion).split("\\.")[0];
    }

    @Override
    public Map<String, Object> summary() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("startLsn", startLsn == 0 ? null : Lsn.format(startLsn));
        m.put("stopLsn", stopLsn == 0 ? null : Lsn.format(stopLsn));
        m.put("timeline", timeline);
        m.put("pgVersion", pgVersion);
        m.put("systemIdentifier", systemIdentifier == 0 ? null : Long.toUnsignedString(systemIdentifier));
        return m;
    }

    @Override
    public ObjectNode toJson() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("engine", ENGINE);
        n.put("version", VERSION);
        putText(n, "pgVersion", pgVersion);
        putNumber(n, "pgVersionNum", pgVersionNum);
        putText(n, "systemIdentifier", systemIdentifier == 0 ? null : Long.toUnsignedString(systemIdentifier));
        putNumber(n, "walSegmentSize", walSegmentSize);
        putNumber(n, "blockSize", blockSize);
        n.put("dataChecksums", dataChecksums);
        putText(n, "superuser", superuser);
        putText(n, "pgdataOwner", pgdataOwner);
        putText(n, "clusterId", clusterId);
        putNumber(n, "timeline", timeline);
        putText(n, "startLsn", startLsn == 0 ? null : Lsn.format(startLsn));
        putText(n, "stopLsn", stopLsn == 0 ? null : Lsn.format(stopLsn));
        putText(n, "startWal", startWal);
        putText(n, "backupLabel", backupLabel);
        putText(n, "tablespaceMap", tablespaceMap);
        if (pagesChecksummed != null) {
            n.put("pagesChecksummed", pagesChecksummed);
        }
        putText(n, "pageChecksumFailures", pageChecksumFailures);
        return n;
    }

    private static void putText(ObjectNode n, String field, String value) {
        if (value != null) {
            n.put(field, value);
        }
    }

    private static void putNumber(ObjectNode n, String field, long value) {
        if (value != 0) {
            n.put(field, value);
        }
    }

    /**
     * Reads a section: version 1, or (no {@code version}) the map of strings manifests held before. A version newer
     * than {@link #VERSION} is refused: it may mean something this code cannot tell.
     */
    public static PostgresBackupInfo fromJson(JsonNode n) {
        JsonNode version = n.get("version");
        if (version == null || !version.isIntegralNumber()) {
            Map<String, String> legacy = new LinkedHashMap<>();
            n.properties().forEach(e -> {
                if (!e.getValue().isValueNode()) {
                    throw new IllegalArgumentException(e.getKey() + " is not a string");
                }
                legacy.put(e.getKey(), e.getValue().asText());
            });
            return fromLegacy(legacy);
        }
        if (version.asInt() < 1 || version.asInt() > VERSION) {
            throw new IllegalArgumentException("the manifest's PostgreSQL section has version " + version.asInt()
                    + ", and this version of Lifeboat reads versions 1 to " + VERSION
                    + ": upgrade Lifeboat to read it");
        }
        return new PostgresBackupInfo(
                text(n, "pgVersion"),
                (int) number(n, "pgVersionNum"),
                systemIdentifier(text(n, "systemIdentifier")),
                number(n, "walSegmentSize"),
                (int) number(n, "blockSize"),
                n.path("dataChecksums").asBoolean(false),
                text(n, "superuser"),
                text(n, "pgdataOwner"),
                text(n, "clusterId"),
                (int) number(n, "timeline"),
                lsn(text(n, "startLsn")),
                lsn(text(n, "stopLsn")),
                text(n, "startWal"),
                text(n, "backupLabel"),
                text(n, "tablespaceMap"),
                n.hasNonNull("pagesChecksummed") ? number(n, "pagesChecksummed") : null,
                text(n, "pageChecksumFailures"));
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException(field + " is not a string");
        }
        return v.asText();
    }

    private static long number(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return 0;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new IllegalArgumentException(field + " is not an integer");
        }
        return v.asLong();
    }

    private static long lsn(String text) {
        return text == null ? 0 : Lsn.parse(text);
    }

    private static long systemIdentifier(String text) {
        return text == null ? 0 : Long.parseUnsignedLong(text);
    }

    /**
     * Converts the {@code engineInfo} string map of a manifest written before the section had a version (the keys
     * are those this record's fields are named after; {@code blocksUnchangedByLsn} of still older manifests is
     * dropped). A value that does not parse counts as unknown, as the readers of those maps took it.
     */
    public static PostgresBackupInfo fromLegacy(Map<String, String> m) {
        String spcMap = m.get("tablespaceMap");
        return new PostgresBackupInfo(
                m.get("pgVersion"),
                (int) legacyNumber(m.get("pgVersionNum")),
                legacySystemIdentifier(m.get("systemIdentifier")),
                legacyNumber(m.get("walSegmentSize")),
                (int) legacyNumber(m.get("blockSize")),
                "on".equals(m.get("dataChecksums")),
                m.get("superuser"),
                m.get("pgdataOwner"),
                m.get("clusterId"),
                (int) legacyNumber(m.get("timeline")),
                legacyLsn(m.get("startLsn")),
                legacyLsn(m.get("stopLsn")),
                m.get("startWal"),
                m.get("backupLabel"),
                spcMap == null || spcMap.isBlank() ? null : spcMap,
                m.containsKey("pagesChecksummed") ? legacyNumber(m.get("pagesChecksummed")) : null,
                m.get("pageChecksumFailures"));
    }

    private static long legacyNumber(String v) {
        try {
            return v == null ? 0 : Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static long legacySystemIdentifier(String v) {
        try {
            return v == null ? 0 : Long.parseUnsignedLong(v.strip());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static long legacyLsn(String v) {
        try {
            return v == null ? 0 : Lsn.parse(v.strip());
        } catch (IllegalArgumentException e) {
            return 0;
        }
    }
}
