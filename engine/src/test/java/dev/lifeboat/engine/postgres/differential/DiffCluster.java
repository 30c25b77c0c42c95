package dev.lifeboat.engine.postgres.differential;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgBackup;
import dev.lifeboat.engine.postgres.PgBackupOptions;
import dev.lifeboat.engine.postgres.PgRestore;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStores;
import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** Source clusters, backups through the Java API and started restores, as the differential tests use them. */
final class DiffCluster {
    private DiffCluster() {}

    /**
     * Settings of every source and restored cluster. Autovacuum off: nothing but the workload may change a source
     * between a backup and the comparison, and nothing may "repair" a restore (VACUUM fixes a wrong visibility map
     * bit it stumbles on) before it is compared.
     */
    static final List<String> SETTINGS = List.of(
            "autovacuum = off",
            "max_parallel_workers_per_gather = 0",
            "log_min_messages = warning",
            // pg_wal keeps the WAL between a chain's backups (no archive here): incrementals are planned from it
            "wal_keep_size = '4GB'");

    static LocalCluster createSource(Path base) throws IOException {
        LocalCluster pg = LocalCluster.create(base, SETTINGS);
        pg.start();
        return pg;
    }

    static Repository newRepository(Path dir) throws IOException {
        // the store stack every command opens (faults, metrics, limiter, retry around the backend), not a bare backend
        BlobStore store = BlobStores.open(dir.resolve("repo").toUri().toString());
        KeySource key = KeySource.KeyFile.create(dir.resolve("repo.key"));
        Repository.init(store, key, false);
        return Repository.open(store, key);
    }

    static Snapshot backup(Repository repo, LocalCluster pg, String type) throws IOException {
        return new PgBackup(
                        repo,
                        new PgBackupOptions(
                                pg.dataDir(),
                                null,
                                null,
                                "postgres",
                                type,
                                Compression.parse(setting("compression", "low")),
                                2),
                        null,
                        new Cancellation())
                .run();
    }

    /**
     * Restores {@code snap} into {@code base/data} (tablespaces into {@code base/spc-OID}), switches autovacuum off in
     * its postgresql.auto.conf, starts it and waits until it accepts writes: a restore may replay WAL and promote to a
     * new timeline (archive recovery) or only do crash recovery from backup_label; both end out of recovery.
     */
    static LocalCluster restoreAndStart(Repository repo, Snapshot snap, Path base) throws IOException, SQLException {
        Map<String, Path> spcMap = new LinkedHashMap<>();
        if (snap.tablespaces() != null) {
            for (Snapshot.Tablespace t : snap.tablespaces()) {
                spcMap.put(t.oid(), base.resolve("spc-" + t.oid()));
            }
        }
        Files.createDirectories(base);
        new PgRestore(
                        repo,
                        new PgRestore.Options(snap.id(), base.resolve("data"), 2, spcMap, null),
                        null,
                        new Cancellation())
                .run();
        Path auto = base.resolve("data").resolve("postgresql.auto.conf");
        boolean existed = Files.exists(auto);
        Files.writeString(
                auto,
                "\n# differential test: the restore must not change itself before it is compared\n"
                        + String.join("\n", SETTINGS) + "\n",
                StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
        if (!existed && Processes.isRoot()) {
            Processes.check(List.of("chown", "postgres", auto.toString()), Duration.ofSeconds(10));
        }
        LocalCluster restored = LocalCluster.attach(base);
        try {
            restored.start();
            waitUntilPromoted(restored, Duration.ofMinutes(5));
            return restored;
        } catch (IOException | SQLException | RuntimeException e) {
            restored.close();
            throw e;
        }
    }

    /** pg_ctl -w returns once a hot standby accepts reads; archive recovery ends later, with the promotion. */
    static void waitUntilPromoted(LocalCluster pg, Duration timeout) throws SQLException, IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try (Connection c = pg.connect("postgres");
                    Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("select pg_is_in_recovery(), case when pg_is_in_recovery() "
                            + "then pg_get_wal_replay_pause_state() else 'not paused' end")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    return;
                }
                if (!rs.getString(2).equals("not paused")) {
                    throw new AssertionError("the restore stays in recovery, paused (" + rs.getString(2)
                            + "): it must promote at the end of the backup; server log:\n" + serverLogTail(pg));
                }
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(
                        "the restore is still in recovery after " + timeout + "; server log:\n" + serverLogTail(pg));
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
    }

    static String serverLogTail(LocalCluster pg) {
        try {
            List<String> lines = Files.readAllLines(pg.socketDir().resolve("server.log"));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no server log: " + e.getMessage() + ")";
        }
    }

    static void exec(LocalCluster pg, String db, String... sql) throws SQLException {
        try (Connection c = pg.connect(db);
                Statement st = c.createStatement()) {
            for (String s : sql) {
                st.execute(s);
            }
        }
    }

    static long queryLong(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Every row of the query, columns as text joined by '|'. */
    static List<String> rows(Connection c, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder sb = new StringBuilder();
                for (int i = 1; i <= n; i++) {
                    if (i > 1) {
                        sb.append('|');
                    }
                    sb.append(rs.getString(i));
                }
                out.add(sb.toString());
            }
        }
        return out;
    }

    /** A working directory the postgres user can enter; kept when asked to (see {@link #keepPolicy()}). */
    static Path workDir(String name) throws IOException {
        Path dir = Files.createTempDirectory("lifeboat-" + name + "-");
        LocalClusterAccess.open(dir);
        return dir;
    }

    /** lifeboat.differential.keep (or LIFEBOAT_DIFFERENTIAL_KEEP): never (default), failure, always. */
    static String keepPolicy() {
        String v = setting("keep", "never");
        return v.equals("true") ? "failure" : v;
    }

    /** A system property lifeboat.differential.NAME, else the environment variable LIFEBOAT_DIFFERENTIAL_NAME. */
    static String setting(String name, String dflt) {
        String p = System.getProperty("lifeboat.differential." + name);
        if (p != null && !p.isBlank()) {
            return p.strip();
        }
        String e = System.getenv("LIFEBOAT_DIFFERENTIAL_"
                + name.replaceAll("([a-z])([A-Z])", "$1_$2").toUpperCase());
        return e != null && !e.isBlank() ? e.strip() : dflt;
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Opens a fresh temp directory to other users (the clusters run as postgres), as LocalCluster does for its own. */
    private static final class LocalClusterAccess {
        static void open(Path dir) throws IOException {
            if (Processes.isRoot()) {
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
        }
    }
}
