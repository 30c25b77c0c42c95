package dev.lifeboat.engine.postgres;

import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A throwaway PostgreSQL cluster in a directory of its own (for the quickstart and tests): initdb, a free loopback
 * port, its socket inside the directory, WAL level replica. Runs as the {@code postgres} OS user when we are root,
 * since PostgreSQL refuses to run as root.
 */
public final class LocalCluster implements AutoCloseable {
    private final Path base;
    private final Path data;
    private final Path socketDir;
    private final int port;
    private final PgBinaries bins;
    private final String osUser;
    private boolean running;

    private LocalCluster(Path base, PgBinaries bins, int port, String osUser) {
        this.base = base;
        this.data = base.resolve("data");
        this.socketDir = base.resolve("run");
        this.port = port;
        this.bins = bins;
        this.osUser = osUser;
    }

    /** Creates (initdb) a new cluster under {@code base}, which must not hold one yet. */
    public static LocalCluster create(Path base, List<String> extraConfig) throws IOException {
        return create(base, extraConfig, List.of());
    }

    /** As {@link #create(Path, List)}, with extra initdb options (e.g. {@code --data-checksums}). */
    public static LocalCluster create(Path base, List<String> extraConfig, List<String> initdbOptions)
            throws IOException {
        PgBinaries bins = PgBinaries.forVersion(System.getenv().getOrDefault("LIFEBOAT_PG_VERSION", "15"));
        String osUser = Processes.isRoot() ? "postgres" : Processes.currentUser();
        LocalCluster c = new LocalCluster(base.toAbsolutePath(), bins, PgValidator.freePort(), osUser);
        c.init(extraConfig, initdbOptions);
        return c;
    }

    private void init(List<String> extraConfig, List<String> initdbOptions) throws IOException {
        Files.createDirectories(base);
        Files.createDirectories(socketDir);
        if (Processes.isRoot()) {
            makeReachable(base, osUser);
            Processes.check(List.of("chown", osUser, socketDir.toString()), Duration.ofSeconds(10));
            Files.createDirectories(data);
            Processes.check(List.of("chown", osUser, data.toString()), Duration.ofSeconds(10));
        }
        List<String> initdb = new ArrayList<>(List.of(
                bins.path("initdb"),
                "-D",
                data.toString(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8"));
        initdb.addAll(initdbOptions);
        Processes.check(Processes.asUser(osUser, initdb), Duration.ofMinutes(5));
        List<String> conf = new ArrayList<>(List.of(
                "listen_addresses = '127.0.0.1'",
                "port = " + port,
                "unix_socket_directories = '" + socketDir + "'",
                "wal_level = replica",
                "max_wal_senders = 10",
                "max_replication_slots = 10",
                "fsync = on",
                "shared_buffers = 128MB",
                "log_min_messages = warning"));
        conf.addAll(extraConfig);
        Path confFile = data.resolve("postgresql.conf");
        Files.writeString(
                confFile, Files.readString(confFile) + "\n# lifeboat test cluster\n" + String.join("\n", conf) + "\n");
    }

    /**
     * The postgres user must be able to traverse every ancestor of the cluster directory. Temporary directories
     * (JUnit's, mktemp's) are 0700 root: open those; anything else that blocks it is reported, not changed.
     */
    static void makeReachable(Path dir, String osUser) throws IOException {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath();
        for (Path p = dir.toAbsolutePath(); p != null && p.getParent() != null; p = p.getParent()) {
            var perms = Files.getPosixFilePermissions(p);
            if (perms.contains(PosixFilePermission.OTHERS_EXECUTE)) {
                continue;
            }
            if (p.startsWith(tmp) || p.equals(dir)) {
                perms.add(PosixFilePermission.OTHERS_EXECUTE);
                perms.add(PosixFilePermission.OTHERS_READ);
                Files.setPosixFilePermissions(p, perms);
            } else {
                throw new IOException(
                        "the " + osUser + " user cannot enter " + p + " (mode " + PosixFilePermissions.toString(perms)
                                + "); choose a directory under " + tmp + " or make " + p + " traversable");
            }
        }
    }

    /**
     * Wraps a data directory restored to {@code base/data} so it can be started on a free port of its own
     * (archiving off, its socket in {@code base/run}), whatever its postgresql.conf says.
     */
    public static LocalCluster attach(Path base) throws IOException {
        return attach(base, false);
    }

    /** As {@link #attach(Path)}; with {@code keepArchiving} the copy archives WAL as its own configuration says. */
    public static LocalCluster attach(Path base, boolean keepArchiving) throws IOException {
        PgDataDirectory dir = new PgDataDirectory(base.resolve("data")).requireCluster();
        LocalCluster c = new LocalCluster(
                base.toAbsolutePath(), PgBinaries.forVersion(dir.majorVersion()), PgValidator.freePort(), dir.owner());
        Files.createDirectories(c.socketDir);
        if (Processes.isRoot()) {
            makeReachable(base, c.osUser);
            Processes.check(List.of("chown", c.osUser, c.socketDir.toString()), Duration.ofSeconds(10));
        }
        c.attached = true;
        c.keepArchiving = keepArchiving;
        return c;
    }

    private boolean attached;
    private boolean keepArchiving;

    public LocalCluster start() throws IOException {
        // port and socket always on the command line: an attached (restored) copy must not collide with its original
        String opts = "-c port=" + port + " -c unix_socket_directories='" + socketDir + "'"
                + (attached ? " -c listen_addresses=''" + (keepArchiving ? "" : " -c archive_mode=off") : "");
        boolean recovering = Files.exists(data.resolve("recovery.signal"));
        Processes.check(
                Processes.asUser(
                        osUser,
                        List.of(
                                bins.path("pg_ctl"),
                                "-D",
                                data.toString(),
                                "-l",
                                socketDir.resolve("server.log").toString(),
                                "-w",
                                "-t",
                                "600",
                                "-o",
                                opts,
                                "start")),
                Duration.ofMinutes(11));
        running = true;
        if (recovering) {
            awaitPromotion(Duration.ofMinutes(10));
        }
        return this;
    }

    /**
     * A restored copy accepts connections once it is consistent and promotes after replaying to its target: wait
     * for that, so callers see the copy as it will stay.
     */
    public void awaitPromotion(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try (Connection c = connect("postgres");
                    var st = c.createStatement();
                    var rs = st.executeQuery("select pg_is_in_recovery()")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    return;
                }
            } catch (SQLException e) {
                if (!Files.exists(data.resolve("postmaster.pid"))) {
                    running = false;
                    String log = Files.exists(socketDir.resolve("server.log"))
                            ? Files.readString(socketDir.resolve("server.log"))
                            : "";
                    throw new IOException("the server on " + data + " stopped during recovery:\n"
                            + log.substring(Math.max(0, log.length() - 4000)));
                }
            }
            if (System.nanoTime() > deadline) {
                throw new IOException("the server on " + data + " did not finish recovery within " + timeout);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }
    }

    public void stop() throws IOException {
        if (running) {
            Processes.run(
                    Processes.asUser(
                            osUser,
                            List.of(
                                    bins.path("pg_ctl"),
                                    "-D",
                                    data.toString(),
                                    "-w",
                                    "-t",
                                    "120",
                                    "-m",
                                    "fast",
                                    "stop")),
                    Duration.ofMinutes(3));
            running = false;
        }
    }

    /** Stops the server abruptly, as a crash would. */
    public void crash() throws IOException {
        if (running) {
            Processes.run(
                    Processes.asUser(
                            osUser, List.of(bins.path("pg_ctl"), "-D", data.toString(), "-m", "immediate", "stop")),
                    Duration.ofMinutes(1));
            running = false;
        }
    }

    public Connection connect(String database) throws SQLException {
        return connections().open(database);
    }

    public PgConnections connections() {
        return PgConnections.socket(socketDir.toString(), port, "postgres");
    }

    /** Runs pgbench against this cluster with the given arguments (e.g. "-i", "-s", "10"). */
    public String pgbench(List<String> args, Duration timeout) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(
                bins.path("pgbench"), "-h", socketDir.toString(), "-p", Integer.toString(port), "-U", "postgres"));
        cmd.addAll(args);
        cmd.add("postgres");
        return Processes.check(Processes.asUser(osUser, cmd), timeout);
    }

    public Process pgbenchAsync(List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(
                bins.path("pgbench"), "-h", socketDir.toString(), "-p", Integer.toString(port), "-U", "postgres"));
        cmd.addAll(args);
        cmd.add("postgres");
        return new ProcessBuilder(Processes.asUser(osUser, cmd))
                .redirectErrorStream(true)
                .redirectOutput(base.resolve("pgbench.log").toFile())
                .start();
    }

    /** Creates a directory the server may use as a tablespace location. */
    public Path tablespaceDir(String name) throws IOException {
        Path p = base.resolve(name);
        Files.createDirectories(p);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
        if (Processes.isRoot()) {
            Processes.check(List.of("chown", osUser, p.toString()), Duration.ofSeconds(10));
        }
        return p;
    }

    public Path dataDir() {
        return data;
    }

    public Path baseDir() {
        return base;
    }

    public Path socketDir() {
        return socketDir;
    }

    public int port() {
        return port;
    }

    public PgBinaries binaries() {
        return bins;
    }

    public String osUser() {
        return osUser;
    }

    @Override
    public void close() throws IOException {
        stop();
    }
}
