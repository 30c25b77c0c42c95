package dev.lifeboat.cli.commands.restore;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.PgServerOptions;
import dev.lifeboat.engine.postgres.PgConnections;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "restore-point",
        description = "Create a named restore point on a running server (for restore --to-name).")
public final class RestorePointCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Mixin
    PgServerOptions server;

    @Mixin
    OutputOptions output;

    @Option(names = "--config", paramLabel = "FILE", description = "Config file with defaults for any option.")
    Path config;

    @Override
    public Integer call() throws Exception {
        PgConnections conns = server.connections();
        try (Connection c = conns.open("postgres");
                PreparedStatement ps =
                        c.prepareStatement("select pg_create_restore_point(?)::text, pg_switch_wal()::text")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                String lsn = rs.getString(1);
                if (output.json()) {
                    Map<String, Object> out = new LinkedHashMap<>();
                    out.put("name", name);
                    out.put("lsn", lsn);
                    output.printJson(out);
                } else {
                    System.out.println("restore point '" + name + "' created at LSN " + lsn);
                }
            }
        }
        return 0;
    }
}
