package dev.lifeboat.cli.options;

import dev.lifeboat.engine.postgres.PgBackup;
import dev.lifeboat.engine.postgres.PgConnections;
import dev.lifeboat.engine.postgres.PgDataDirectory;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How commands reach a running server: its data directory (socket and port from postmaster.pid) or host/port. */
public final class PgServerOptions {
    @Option(
            names = "--pgdata",
            paramLabel = "DIR",
            description = "The cluster's data directory (socket and port are read from its postmaster.pid).")
    Path pgdata;

    @Option(
            names = "--pghost",
            paramLabel = "HOST",
            description = "Server host or socket directory (default: from postmaster.pid).")
    String pghost;

    @Option(names = "--pgport", paramLabel = "PORT", description = "Server port (default: from postmaster.pid).")
    Integer pgport;

    @Option(
            names = "--pguser",
            paramLabel = "USER",
            description = "Database user (default: $PGUSER, or postgres when root).")
    String pguser;

    /** --pgdata, or null. */
    public Path pgdata() {
        return pgdata;
    }

    public String pghost() {
        return pghost;
    }

    public Integer pgport() {
        return pgport;
    }

    public String pguser() {
        return pguser;
    }

    public PgConnections connections() throws IOException {
        return PgBackup.connectionFor(pgdata == null ? null : new PgDataDirectory(pgdata), pghost, pgport, pguser);
    }

    public Path requirePgdata() {
        if (pgdata == null) {
            throw new IllegalArgumentException(
                    "pass --pgdata DIR: the data directory of the cluster to back up (env LIFEBOAT_PGDATA)");
        }
        return pgdata;
    }
}
