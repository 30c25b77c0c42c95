package dev.lifeboat.agent;

import dev.lifeboat.engine.postgres.PgBackup;
import dev.lifeboat.engine.postgres.PgConnections;
import dev.lifeboat.engine.postgres.PgDataDirectory;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.replication.RepositoryAccess;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.BlobStore;
import java.io.IOException;
import java.util.function.BooleanSupplier;

/** How the agent reaches one configured database's repository and server: the same way the CLI's options do. */
public final class DatabaseAccess {
    private DatabaseAccess() {}

    /** The repository store with its synchronous regions, as {@code --repo}/{@code --replication} open it. */
    public static BlobStore openStore(AgentConfig.Database database) {
        return RepositoryAccess.openStore(database.repo(), database.replication());
    }

    public static Repository openRepository(AgentConfig.Database database) throws IOException {
        return RepositoryAccess.open(openStore(database), () -> keySource(database));
    }

    /**
     * The repository copy in a replication region, opened from the region's store alone (what a restore or drill from
     * that region reads when the primary is gone), read-only; {@code stop} cuts the store's waits short.
     */
    public static Repository openRegionRepository(
            AgentConfig.Database database, ReplicationConfig.Region region, BooleanSupplier stop) throws IOException {
        return RepositoryAccess.open(RepositoryAccess.openRegionForReading(region, stop), () -> keySource(database));
    }

    private static KeySource keySource(AgentConfig.Database database) throws IOException {
        if (database.keyFile() != null) {
            return KeySource.KeyFile.read(database.keyFile());
        }
        String pass = System.getenv("LIFEBOAT_PASSPHRASE");
        if (pass != null && !pass.isEmpty()) {
            return new KeySource.Passphrase(pass.toCharArray());
        }
        throw new IllegalArgumentException(
                "the repository of database " + database.name() + " is encrypted: set key-file "
                        + "for it in the agent config, or LIFEBOAT_PASSPHRASE in the agent's environment");
    }

    /** How to reach the database's server, as {@code --pgdata/--pghost/--pgport/--pguser} do. */
    public static PgConnections connections(AgentConfig.Database database) throws IOException {
        return PgBackup.connectionFor(
                database.pgdata() == null ? null : new PgDataDirectory(database.pgdata()),
                database.pghost(),
                database.pgport(),
                database.pguser());
    }
}
