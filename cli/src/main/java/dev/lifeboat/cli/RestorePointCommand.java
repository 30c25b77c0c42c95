package dev.lifeboat.cli;

import dev.lifeboat.engine.postgres.PgConnections;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "restore-point",
        description = "Create a named restore point on a running server (for restore --to-name).")
final class RestorePointCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @picocli.CommandLine.Mixin
    PgServerOptions server;

    @Option(names = "--config", paramLabel = "FILE", description = "Config file with defaults for any option.")
    Path config;

    @Option(names = {"-v", "--verbose"})
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        PgConnections conns = server.connections();
        try (Connection c = conns.open("postgres");
                PreparedStatement ps =
                        c.prepareStatement("select pg_create_restore_point(?)::text, pg_switch_wal()::text")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                System.out.println("restore point '" + name + "' created at LSN " + rs.getString(1));
            }
        }
        return 0;
    }
}
