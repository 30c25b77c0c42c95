package dev.lifeboat.engine.postgres;

import dev.lifeboat.repository.WalSource;
import dev.lifeboat.util.Hosts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds the {@link WalSource} a WAL writer presents to the archive from the data directory of the cluster it serves.
 * */
public final class WalSources {
    private WalSources() {}

    /** The cluster in {@code pgdata} (pg_control and restore marker), writing through {@code via}. */
    public static WalSource of(Path pgdata, String via) throws IOException {
        Path dir = pgdata.toAbsolutePath().normalize();
        if (!Files.isRegularFile(dir.resolve("global/pg_control"))) {
            throw new PgException(dir + " is not a PostgreSQL data directory (no global/pg_control), so " + via
                    + " cannot tell which cluster is writing");
        }
        ClusterIdentity id = ClusterIdentity.of(dir);
        return new WalSource(
                id.systemIdentifier(),
                id.clusterId(),
                id.describe(),
                Hosts.name(),
                dir.toString(),
                id.restoredFrom(),
                via);
    }

    /**
     * A server known only through a connection: {@code marker} is the text of its restore marker (null if it has
     * none), read the way {@link ClusterIdentity#of} reads the file.
     */
    public static WalSource fromMarker(long systemId, String marker, String host, String pgdata, String via) {
        ClusterIdentity id = ClusterIdentity.parse(systemId, marker);
        return new WalSource(systemId, id.clusterId(), id.describe(), host, pgdata, id.restoredFrom(), via);
    }

    /**
     * The data directory of the cluster whose WAL file {@code walFile} is: {@code explicit} if given, else the
     * directory holding {@code pg_wal/NAME} (archive_command runs in PGDATA with {@code %p} = {@code pg_wal/NAME}),
     * else the working directory if it is a data directory.
     */
    public static Path pgdataOf(Path walFile, Path explicit) {
        if (explicit != null) {
            return explicit.toAbsolutePath().normalize();
        }
        Path dir = walFile.toAbsolutePath().normalize().getParent();
        if (dir != null
                && dir.getFileName() != null
                && dir.getFileName().toString().equals("pg_wal")
                && dir.getParent() != null
                && Files.isRegularFile(dir.getParent().resolve("global/pg_control"))) {
            return dir.getParent();
        }
        Path cwd = Path.of("").toAbsolutePath();
        if (Files.isRegularFile(cwd.resolve("global/pg_control"))) {
            return cwd;
        }
        throw new IllegalArgumentException("cannot tell which cluster " + walFile + " comes from: run wal-push as "
                + "archive_command (PostgreSQL runs it in the data directory with %p = pg_wal/NAME), or pass "
                + "--pgdata DIR");
    }
}
