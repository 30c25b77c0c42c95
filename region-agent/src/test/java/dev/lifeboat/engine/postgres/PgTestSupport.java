package dev.lifeboat.engine.postgres;

import dev.lifeboat.cli.Main;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/** Helpers for tests that run real PostgreSQL clusters and the real CLI. */
public final class PgTestSupport {
    private PgTestSupport() {
    }

    public record CliResult(int exitCode, String out, String err) {
        public String all() {
            return out + err;
        }
    }

    /** Runs the CLI in this JVM, capturing its output. */
    public static synchronized CliResult cli(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new CliResult(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /** Starts the CLI as a separate process (so a test can kill -9 it). */
    public static Process cliProcess(Path log, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /**
     * Restores with the CLI into {@code base/data} with --validate, starts the copy and returns the ids in
     * {@code table} (ordered).
     */
    public static List<Long> restoreAndReadIds(Path base, String uri, Path keyFile, String table, String... targetArgs)
            throws Exception {
        List<String> args = new ArrayList<>(List.of("restore", "--repo", uri, "--key-file", keyFile.toString(),
                "--target", base.resolve("data").toString(), "--validate", "-q"));
        args.addAll(List.of(targetArgs));
        CliResult r = cli(args.toArray(String[]::new));
        if (r.exitCode() != 0 || !r.out().contains("validation passed")) {
            throw new AssertionError("restore failed: " + r.all());
        }
        giveRepositoryToPostgres(uri);
        try (LocalCluster restored = LocalCluster.attach(base)) {
            restored.start();
            if (count(restored, "select pg_is_in_recovery()::int") != 0) {
                throw new AssertionError("restored copy is still in recovery");
            }
            List<Long> ids = new ArrayList<>();
            try (Connection c = restored.connect("postgres"); Statement st = c.createStatement();
                 ResultSet rs = st.executeQuery("select id from " + table + " order by id")) {
                while (rs.next()) {
                    ids.add(rs.getLong(1));
                }
            }
            return ids;
        }
    }

    /**
     * Gives a file:// repository to the postgres user, as docs/operations.md has it ("run Lifeboat as postgres"):
     * tests run the CLI as root, but archive_command, restore_command and recovery_end_command run as postgres and
     * must be able to write (e.g. release a restore's replay lease under locks/).
     */
    public static void giveRepositoryToPostgres(String uri) throws IOException {
        if (uri.startsWith("file://") && dev.lifeboat.util.Processes.isRoot()) {
            dev.lifeboat.util.Processes.check(List.of("chown", "-R", "postgres", uri.substring("file://".length())),
                    java.time.Duration.ofSeconds(60));
        }
    }

    /** [from, from+1, …, to] */
    public static List<Long> range(long from, long to) {
        List<Long> out = new ArrayList<>();
        for (long i = from; i <= to; i++) {
            out.add(i);
        }
        return out;
    }

    public static long count(LocalCluster pg, String sql) throws SQLException {
        try (Connection c = pg.connect("postgres"); Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    public static void exec(LocalCluster pg, String... sql) throws SQLException {
        try (Connection c = pg.connect("postgres"); Statement st = c.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        }
    }

    public static String repoUri(Path dir) {
        return "file://" + dir.toAbsolutePath();
    }

    /** A new key file in {@code dir}. */
    public static Path keyFile(Path dir) throws IOException {
        Path p = dir.resolve("test.key");
        if (!Files.exists(p)) {
            dev.lifeboat.repository.crypto.KeySource.KeyFile.create(p);
        }
        return p;
    }
}
