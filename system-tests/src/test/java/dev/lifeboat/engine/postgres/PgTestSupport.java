package dev.lifeboat.engine.postgres;

import dev.lifeboat.cli.Main;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.util.Processes;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Helpers for tests that run real PostgreSQL clusters and the real CLI. */
public final class PgTestSupport {
    private PgTestSupport() {}

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
        String launcher = System.getProperty("lifeboat.launcher");
        if (launcher != null) {
            // the commands it hands PostgreSQL (restore_command in drills) run as the postgres user, who cannot read
            // this class path under /root: they go through the test launcher instead, as they would through bin/
            cmd.add("-Dlifeboat.launcher=" + launcher);
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
    }

    /**
     * Restores with the CLI into {@code base/data} with --validate, starts the copy and returns the ids in
     * {@code table} (ordered).
     */
    public static List<Long> restoreAndReadIds(Path base, String uri, Path keyFile, String table, String... targetArgs)
            throws Exception {
        List<String> args = new ArrayList<>(List.of(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--target",
                base.resolve("data").toString(),
                "--validate",
                "-q"));
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
            try (Connection c = restored.connect("postgres");
                    Statement st = c.createStatement();
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
        if (uri.startsWith("file://") && Processes.isRoot()) {
            Processes.check(
                    List.of("chown", "-R", "postgres", uri.substring("file://".length())), Duration.ofSeconds(60));
        }
    }

    /**
     * A file:// repository whose WAL a cluster archives through the real launcher: the key and the repository are
     * shared with the postgres user, who runs archive_command.
     */
    public record ArchiveSetup(Path launcher, Path keyFile, String uri, Path repoDir) {
        /** The postgresql.conf line that archives into this repository. */
        public String archiveCommand() {
            return "archive_command = '" + launcher + " wal-push --repo " + uri + " --key-file " + keyFile + " %p'";
        }
    }

    /** A new encrypted repository under {@code tmp/repo} (key {@code tmp/test.key}), ready for archive_command. */
    public static ArchiveSetup archiveRepository(Path tmp) throws Exception {
        Path launcher = TestLauncher.install();
        Path key = keyFile(tmp);
        TestLauncher.shareWithPostgres(key);
        String uri = repoUri(tmp.resolve("repo"));
        CliResult init = cli("repo-init", "--repo", uri, "--key-file", key.toString());
        if (init.exitCode() != 0) {
            throw new AssertionError("repo-init failed: " + init.all());
        }
        TestLauncher.shareWithPostgres(tmp.resolve("repo"));
        giveRepositoryToPostgres(uri);
        return new ArchiveSetup(launcher, key, uri, tmp.resolve("repo"));
    }

    /** Inserts ids {@code from..to} into table {@code t} one commit each, recording each commit's timestamp. */
    public static void insertTimed(LocalCluster pg, long from, long to, Map<Long, Instant> committed, long pauseMillis)
            throws Exception {
        try (Connection c = pg.connect("postgres");
                PreparedStatement ps = c.prepareStatement("insert into t values (?)");
                Statement st = c.createStatement()) {
            for (long id = from; id <= to; id++) {
                ps.setLong(1, id);
                ps.executeUpdate();
                try (ResultSet rs = st.executeQuery("select pg_xact_commit_timestamp(xmin) from t where id = " + id)) {
                    rs.next();
                    committed.put(id, rs.getTimestamp(1).toInstant());
                }
                Thread.sleep(pauseMillis);
            }
        }
    }

    /** Switches to a new segment and waits until nothing is left to archive. */
    public static void drainArchive(LocalCluster pg) throws Exception {
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement()) {
            st.execute("select pg_switch_wal()");
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (System.nanoTime() < deadline) {
                try (ResultSet rs =
                        st.executeQuery("select count(*) from pg_ls_archive_statusdir() where name like '%.ready'")) {
                    rs.next();
                    if (rs.getLong(1) == 0) {
                        return;
                    }
                }
                Thread.sleep(100);
            }
            throw new AssertionError("archiving did not catch up");
        }
    }

    /** The ids in table {@code t}, in order. */
    public static List<Long> ids(LocalCluster pg) throws Exception {
        List<Long> out = new ArrayList<>();
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select id from t order by id")) {
            while (rs.next()) {
                out.add(rs.getLong(1));
            }
        }
        return out;
    }

    public static List<Long> concat(List<Long> x, List<Long> y) {
        List<Long> out = new ArrayList<>(x);
        out.addAll(y);
        return out;
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
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    public static void exec(LocalCluster pg, String... sql) throws SQLException {
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement()) {
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
            KeySource.KeyFile.create(p);
        }
        return p;
    }
}
