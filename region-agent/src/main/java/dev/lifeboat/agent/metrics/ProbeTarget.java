package dev.lifeboat.agent.metrics;

import dev.lifeboat.engine.postgres.PgBackup;
import dev.lifeboat.engine.postgres.PgConnections;
import dev.lifeboat.engine.postgres.PgDataDirectory;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.replication.RepositoryAccess;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.storage.BlobStore;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One database the {@link RpoProbe} measures: its running server, its primary repository (in {@code primaryRegion})
 * and the replicated copies of that repository in other regions, keyed by region name. The replica stores belong to
 * the probe from then on: it closes them when it is closed.
 */
public record ProbeTarget(
        String database,
        ConnectionSource postgres,
        String primaryRegion,
        Repository primary,
        Map<String, BlobStore> replicas) {

    /** How to reach the server; asked again on every reconnect, so a restarted server's new socket or port is found. */
    @FunctionalInterface
    public interface ConnectionSource {
        PgConnections connections() throws IOException;
    }

    public ProbeTarget {
        if (database == null || database.isBlank()) {
            throw new IllegalArgumentException("a probe target needs a database name");
        }
        if (postgres == null || primary == null) {
            throw new IllegalArgumentException("probe target " + database + " needs a server and a primary repository");
        }
        if (primaryRegion == null || primaryRegion.isBlank()) {
            throw new IllegalArgumentException(
                    "probe target " + database + " needs the primary repository's region name");
        }
        replicas = replicas == null ? Map.of() : Map.copyOf(new LinkedHashMap<>(replicas));
        if (replicas.containsKey(primaryRegion)) {
            throw new IllegalArgumentException("probe target " + database + ": region " + primaryRegion
                    + " is both the primary's region and a replication region; give the regions distinct names");
        }
    }

    /** A target whose regions are the primary plus every region of {@code replication} (null: none), opened by URI. */
    public static ProbeTarget of(
            String database,
            ConnectionSource postgres,
            String primaryRegion,
            Repository primary,
            ReplicationConfig replication) {
        Map<String, BlobStore> replicas = new LinkedHashMap<>();
        if (replication != null) {
            for (ReplicationConfig.Region r : replication.regions()) {
                replicas.put(r.name(), RepositoryAccess.openRegionForReading(r, () -> false));
            }
        }
        return new ProbeTarget(database, postgres, primaryRegion, primary, replicas);
    }

    /** The server running the cluster in {@code pgdata}, over the socket and port in its postmaster.pid. */
    public static ConnectionSource pgdata(Path pgdata, String user) {
        return () -> PgBackup.connectionFor(new PgDataDirectory(pgdata), null, null, user);
    }

    /** A fixed server address (host or socket directory, port, user). */
    public static ConnectionSource fixed(PgConnections connections) {
        return () -> connections;
    }
}
