package dev.lifeboat.controller.audit;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.h2.jdbcx.JdbcConnectionPool;
import org.postgresql.ds.PGSimpleDataSource;

/** Real controller databases for tests: an H2 file in a temp dir, or a throwaway PostgreSQL 15 cluster; both migrated
 * by Flyway. */
public final class TestDatabases {
    private TestDatabases() {}

    /** An embedded H2 database file under {@code dir}, migrated; {@code dispose()} it when done. */
    public static JdbcConnectionPool h2(Path dir) {
        JdbcConnectionPool pool =
                JdbcConnectionPool.create("jdbc:h2:file:" + dir.toAbsolutePath().resolve("controller"), "sa", "");
        pool.setMaxConnections(32);
        migrate(pool);
        return pool;
    }

    public static void migrate(DataSource ds) {
        Flyway.configure().dataSource(ds).load().migrate();
    }

    /** A PostgreSQL 15 cluster on a free loopback port, in {@code dir}, with the migrations applied. */
    public static final class Postgres implements AutoCloseable {
        private static final Path BIN =
                Path.of(System.getenv().getOrDefault("LIFEBOAT_PG_BIN", "/usr/lib/postgresql/15/bin"));
        private final Path data;
        private final int port;
        private final boolean root;

        public Postgres(Path dir) throws IOException, InterruptedException {
            if (!Files.isExecutable(BIN.resolve("initdb"))) {
                throw new IllegalStateException("PostgreSQL 15 is not installed at " + BIN
                        + " (apt-get install postgresql-15, or set LIFEBOAT_PG_BIN)");
            }
            root = "root".equals(System.getProperty("user.name"));
            Path base = dir.toAbsolutePath().resolve("pg");
            Files.createDirectories(base);
            data = base.resolve("data");
            if (root) {
                // initdb refuses root: the cluster belongs to postgres, who must reach it through the 0700 temp dir
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
                run(List.of("chown", "postgres", base.toString()));
            }
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            run(asPostgres(List.of(
                    BIN.resolve("initdb").toString(),
                    "-D",
                    data.toString(),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8")));
            Path conf = data.resolve("postgresql.conf");
            Files.writeString(
                    conf,
                    Files.readString(conf) + "\nlisten_addresses = '127.0.0.1'\nport = " + port
                            + "\nunix_socket_directories = '" + base + "'\nfsync = off\nmax_connections = 60\n");
            run(asPostgres(List.of(
                    BIN.resolve("pg_ctl").toString(),
                    "-D",
                    data.toString(),
                    "-l",
                    base.resolve("server.log").toString(),
                    "-w",
                    "-t",
                    "60",
                    "start")));
            migrate(dataSource());
        }

        /** A new data source (think: another controller's connection settings). */
        public DataSource dataSource() {
            PGSimpleDataSource ds = new PGSimpleDataSource();
            ds.setServerNames(new String[] {"127.0.0.1"});
            ds.setPortNumbers(new int[] {port});
            ds.setDatabaseName("postgres");
            ds.setUser("postgres");
            return ds;
        }

        @Override
        public void close() throws IOException, InterruptedException {
            run(asPostgres(
                    List.of(BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "-w", "stop")));
        }

        private List<String> asPostgres(List<String> cmd) {
            if (!root) {
                return cmd;
            }
            List<String> out = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
            out.addAll(cmd);
            return out;
        }

        private static void run(List<String> cmd) throws IOException, InterruptedException {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(90, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed: " + new String(out, StandardCharsets.UTF_8));
            }
        }
    }
}
