package dev.lifeboat.engine.postgres;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.progress.ProgressTracker;
import dev.lifeboat.repository.FileBackup;
import dev.lifeboat.repository.ReplayLease;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RepositoryConfig;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.chunking.Chunker;
import dev.lifeboat.repository.chunking.FastCdcChunker;
import dev.lifeboat.repository.chunking.FixedBlockChunker;
import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Proves a restored directory is a working database: re-hashes every restored file against the manifest, starts
 * PostgreSQL on it (private socket, no TCP, archiving off), then in every database, inside a transaction that is
 * rolled back (so no extension is left behind): amcheck's heap and B-tree checks on the relations pg_amcheck would
 * pick, pg_visibility's visibility-map checks on every heap relation, a check that unlogged tables are empty, a row
 * count of every table and an anti-join per foreign key; finally stops the server.
 */
public final class PgValidator {
    private static final Logger log = LoggerFactory.getLogger(PgValidator.class);

    public record TableCount(String table, long rows) {}

    public record ForeignKeyCheck(String constraint, String table, String references, long violations) {}

    /**
     * @param visibilityRelationsChecked relations whose visibility map pg_check_visible and pg_check_frozen checked
     * @param unloggedTablesChecked      unlogged tables (and their TOAST tables) checked to be empty
     * @param corruption                 amcheck, pg_visibility and unlogged-table findings, one line each
     */
    public record DatabaseReport(
            String name,
            List<TableCount> tables,
            int heapRelationsChecked,
            int btreeIndexesChecked,
            int visibilityRelationsChecked,
            int unloggedTablesChecked,
            List<String> corruption,
            List<ForeignKeyCheck> foreignKeys) {}

    public record Report(
            String target,
            String backupId,
            long filesChecked,
            long bytesChecked,
            List<String> fileMismatches,
            double startSeconds,
            List<DatabaseReport> databases,
            double seconds,
            List<String> problems,
            List<UserAssertion.Result> assertions,
            String lastReplayedCommit) {
        public boolean ok() {
            return problems.isEmpty();
        }
    }

    private final Repository repo;
    private final Path target;
    private final Snapshot snapshot;
    private final int parallel;
    private final ProgressListener listener;
    private final Cancellation cancel;

    /** Every restore rewrites postgresql.auto.conf (its recovery settings) after the file was checked. */
    private Set<String> skipChecksums = Set.of("postgresql.auto.conf");

    private Duration recoveryTimeout = Duration.ofHours(6);

    private List<UserAssertion> assertions = List.of();

    /** Restored files that were changed on purpose after restore (e.g. recovery settings in postgresql.auto.conf). */
    public PgValidator skipChecksums(Collection<String> paths) {
        Set<String> all = new HashSet<>(paths);
        all.add("postgresql.auto.conf");
        this.skipChecksums = Set.copyOf(all);
        return this;
    }

    private String replayLease;
    private String mustReplayPast;

    /**
     * Validates what {@code result} restored: the files the restore changed after their checksum are not re-hashed,
     * and the restore's replay lease is released once the validation server has finished recovery (its
     * recovery_end_command does so too, but only if PostgreSQL's OS user may write the repository).
     */
    public PgValidator restored(PgRestore.Result result) {
        skipChecksums(result.modifiedFiles());
        this.replayLease = result.replayLease();
        this.mustReplayPast = result.mustReplayPast();
        return this;
    }

    /** Operator checks run after the built-in ones; each failing one is a problem of the report. */
    public PgValidator assertions(List<UserAssertion> list) {
        this.assertions = List.copyOf(list);
        return this;
    }

    public PgValidator recoveryTimeout(Duration d) {
        this.recoveryTimeout = d;
        return this;
    }

    /** @param repo the repository the snapshot came from (its id key and chunking re-compute file digests) */
    public PgValidator(
            Repository repo,
            Path target,
            Snapshot snapshot,
            int parallel,
            ProgressListener listener,
            Cancellation cancel) {
        this.repo = repo;
        this.target = target.toAbsolutePath().normalize();
        this.snapshot = snapshot;
        this.parallel = Math.max(1, parallel);
        this.listener = listener == null ? ProgressListener.NONE : listener;
        this.cancel = cancel == null ? Cancellation.none() : cancel;
    }

    public Report run() throws IOException {
        long t0 = System.nanoTime();
        List<String> problems = new ArrayList<>();
        List<String> mismatches = checkFiles();
        problems.addAll(mismatches);
        long files = snapshot.files().stream()
                .filter(f -> f.kind() == Snapshot.Kind.FILE)
                .count();
        long bytes = snapshot.totalFileBytes();
        if (!mismatches.isEmpty()) {
            return new Report(
                    target.toString(),
                    snapshot.id(),
                    files,
                    bytes,
                    mismatches,
                    0,
                    List.of(),
                    (System.nanoTime() - t0) / 1e9,
                    problems,
                    List.of(),
                    null);
        }
        PgDataDirectory dir = new PgDataDirectory(target).requireCluster();
        PgBinaries bins = PgBinaries.forVersion(dir.majorVersion());
        String osUser = dir.owner();
        String superuser =
                Objects.requireNonNullElse(PostgresBackupInfo.of(snapshot).superuser(), "postgres");
        Path runDir = Files.createTempDirectory("lifeboat-validate-");
        List<DatabaseReport> dbs = new ArrayList<>();
        List<UserAssertion.Result> checked = new ArrayList<>();
        String lastCommit = null;
        double startSeconds = -1;
        try {
            prepareRunDir(runDir, osUser);
            int port = freePort();
            long s0 = System.nanoTime();
            boolean archiveRecovery = Files.exists(target.resolve("recovery.signal"));
            try {
                start(bins, runDir, port, osUser); // in the try: a start that times out may still leave a server
                PgConnections conns = PgConnections.socket(runDir.toString(), port, superuser);
                if (archiveRecovery) {
                    waitForPromotion(conns, runDir);
                    checkRecoveryReached().ifPresent(p -> problems.add(p + recoveryLog(runDir)));
                    if (replayLease != null) {
                        ReplayLease.release(repo.store(), replayLease);
                    }
                    lastCommit = lastReplayedCommit(conns);
                }
                startSeconds = (System.nanoTime() - s0) / 1e9;
                CancellingConnections watched = new CancellingConnections(conns, cancel);
                try (watched) {
                    for (String db : databases(conns)) {
                        cancel.throwIfCancelled();
                        dbs.add(checkDatabase(watched, db));
                    }
                    checked.addAll(runAssertions(watched));
                }
                for (DatabaseReport r : dbs) {
                    String db = r.name();
                    r.corruption().forEach(c -> problems.add("database " + db + ": " + c));
                    r.foreignKeys().stream()
                            .filter(f -> f.violations() > 0)
                            .forEach(f -> problems.add("database " + db
                                    + ": foreign key " + f.constraint() + " on " + f.table() + " has " + f.violations()
                                    + " rows without a match in " + f.references()));
                }
                checked.stream()
                        .filter(r -> !r.passed())
                        .forEach(r -> problems.add("assertion '" + r.name() + "' failed: "
                                + (r.error() != null
                                        ? r.error()
                                        : "expected " + r.expect() + ", got " + (r.row() ? r.actual() : "no row"))));
            } finally {
                stop(bins, runDir, osUser);
                if (archiveRecovery) {
                    markNewTimelineForArchiving();
                    // recovery is over: segments the read-ahead fetched beyond the target are not needed any more
                    Path prefetch = target.resolve("pg_wal").resolve("lifeboat-prefetch");
                    if (Files.isDirectory(prefetch)) {
                        deleteTree(prefetch);
                    }
                }
            }
        } catch (SQLException e) {
            cancel.throwIfCancelled(); // a query cancelled with the operation: the operation was cancelled
            problems.add("validation query failed: " + e.getMessage());
            startSeconds = -1;
        } finally {
            deleteTree(runDir);
        }
        return new Report(
                target.toString(),
                snapshot.id(),
                files,
                bytes,
                List.of(),
                startSeconds,
                dbs,
                (System.nanoTime() - t0) / 1e9,
                problems,
                checked,
                lastCommit);
    }

    /**
     * When the newest transaction the copy replayed committed (ISO-8601), or null when recovery replayed none; it
     * stays as recovery left it after promotion.
     */
    private static String lastReplayedCommit(PgConnections conns) throws SQLException {
        try (Connection c = conns.open("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(
                        "select (extract(epoch from pg_last_xact_replay_timestamp()) * 1000000)::bigint")) {
            rs.next();
            long micros = rs.getLong(1);
            return rs.wasNull()
                    ? null
                    : Instant.EPOCH.plus(micros, ChronoUnit.MICROS).toString();
        }
    }

    /** Re-reads every restored file from disk and compares its size and digest with the manifest. */
    private List<String> checkFiles() throws IOException {
        List<Snapshot.FileEntry> files = snapshot.files().stream()
                .filter(f -> f.kind() == Snapshot.Kind.FILE)
                .filter(f -> !skipChecksums.contains(f.path()))
                .toList();
        ProgressTracker progress =
                new ProgressTracker("validate", "checksums", snapshot.totalFileBytes(), files.size(), listener);
        List<String> bad = Collections.synchronizedList(new ArrayList<>());
        ConcurrentLinkedQueue<Snapshot.FileEntry> queue = new ConcurrentLinkedQueue<>(files);
        RepositoryConfig.Chunking ck = repo.config().chunking();
        try (ExecutorService pool = Executors.newFixedThreadPool(parallel)) {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < parallel; i++) {
                futures.add(pool.submit(() -> {
                    FileBackup reader = new FileBackup(Math.max(ck.maxSize(), ck.relationBlockSize()));
                    Chunker cdc = new FastCdcChunker(ck.minSize(), ck.avgSize(), ck.maxSize(), ck.seed());
                    Chunker blocks = new FixedBlockChunker(ck.relationBlockSize());
                    Snapshot.FileEntry f;
                    while ((f = queue.poll()) != null) {
                        cancel.throwIfCancelled();
                        FileBackup.Digested d;
                        try {
                            d = reader.digest(
                                    target.resolve(f.path()),
                                    PgFileRules.isRelationFile(f.path()) ? blocks : cdc,
                                    repo.chunkIds(),
                                    progress,
                                    cancel);
                        } catch (NoSuchFileException e) {
                            bad.add(f.path() + ": missing");
                            continue;
                        }
                        if (d.size() != f.size() || !d.digest().equals(f.digest())) {
                            bad.add(f.path() + ": digest " + d.digest() + " (" + d.size()
                                    + " bytes) differs from the manifest's " + f.digest() + " (" + f.size()
                                    + " bytes)");
                        }
                        progress.fileDone();
                    }
                    return null;
                }));
            }
            PgBackup.await(futures);
        }
        progress.finish(null);
        Collections.sort(bad);
        return bad;
    }

    private static void prepareRunDir(Path runDir, String osUser) throws IOException {
        Files.writeString(runDir.resolve("pg_hba.conf"), "local all all trust\n");
        Files.writeString(runDir.resolve("empty.conf"), "");
        if (Processes.isRoot()) {
            Files.setPosixFilePermissions(runDir, PosixFilePermissions.fromString("rwx------"));
            for (Path p : List.of(runDir, runDir.resolve("pg_hba.conf"), runDir.resolve("empty.conf"))) {
                Processes.check(List.of("chown", osUser, p.toString()), Duration.ofSeconds(10));
            }
        }
    }

    private void start(PgBinaries bins, Path runDir, int port, String osUser) throws IOException {
        List<String> o = new ArrayList<>(List.of(
                "-c port=" + port,
                "-c listen_addresses=''",
                "-c unix_socket_directories='" + runDir + "'",
                "-c archive_mode=off",
                // the copy's subscriptions must not connect to their publishers: an apply worker would take over
                // production's replication slot and confirm changes the real subscriber never applied
                "-c max_logical_replication_workers=0",
                "-c hba_file='" + runDir.resolve("pg_hba.conf") + "'"));
        if (!Files.exists(target.resolve("postgresql.conf"))) {
            // e.g. Debian keeps the config in /etc: start with defaults rather than touch the restored directory
            o.add("-c config_file='" + runDir.resolve("empty.conf") + "'");
        }
        List<String> cmd = List.of(
                bins.path("pg_ctl"),
                "-D",
                target.toString(),
                "-l",
                runDir.resolve("server.log").toString(),
                "-w",
                "-t",
                "3600",
                "-o",
                String.join(" ", o),
                "start");
        Processes.Result r = Processes.run(Processes.asUser(osUser, cmd), Duration.ofHours(1));
        if (r.exitCode() != 0) {
            String serverLog = "";
            try {
                serverLog = Files.readString(runDir.resolve("server.log"));
            } catch (IOException ignored) {
                // no log
            }
            throw new PgException("the restored cluster at " + target + " did not start:\n"
                    + r.output().strip() + (serverLog.isEmpty() ? "" : "\n--- server log ---\n" + tail(serverLog, 40)));
        }
        log.info("validation server up on socket {} port {}", runDir, port);
    }

    /**
     * For a restore to the end of the archived WAL: whether recovery replayed the newest archived commit. Where it
     * ended is the switch point of the copy's new timeline, in the history file PostgreSQL writes on promotion
     * ({@code writeTimeLineHistory} in timeline.c). A recovery setting outside the restore's block could stop it
     * early and still promote.
     */
    private Optional<String> checkRecoveryReached() throws IOException {
        if (mustReplayPast == null) {
            return Optional.empty();
        }
        Optional<TimelineHistory> newest = newestTimelineHistory();
        if (newest.isEmpty() || newest.get().entries().isEmpty()) {
            return Optional.of("recovery promoted the copy, but its pg_wal holds no timeline history to say where");
        }
        long end = newest.get().entries().getLast().switchLsn();
        if (Long.compareUnsigned(end, Lsn.parse(mustReplayPast)) > 0) {
            return Optional.empty();
        }
        return Optional.of("recovery ended at " + Lsn.format(end) + ", before the newest archived commit at "
                + mustReplayPast + " that the restore planned to replay (a recovery_target setting outside "
                + "postgresql.auto.conf, e.g. in a file it includes, may have stopped it)");
    }

    /**
     * The server log's lines about fetching WAL and ending recovery, and what restore_command printed: what says why
     * recovery stopped where it did.
     */
    private static String recoveryLog(Path runDir) {
        try {
            List<String> lines = Files.readAllLines(runDir.resolve("server.log")).stream()
                    // lines without the server's timestamp are what restore_command printed
                    .filter(l -> !l.isBlank() && !l.matches("^\\d{4}-\\d\\d-\\d\\d .*")
                            || l.contains("wal-get")
                            || l.contains("restored log file")
                            || l.contains("redo done")
                            || l.contains("archive recovery complete")
                            || l.contains("selected new timeline")
                            || l.contains("could not restore")
                            || l.contains("invalid record")
                            || l.contains("FATAL")
                            || l.contains("ERROR"))
                    .toList();
            return lines.isEmpty()
                    ? ""
                    : "; server log: "
                            + String.join(" | ", lines.subList(Math.max(0, lines.size() - 12), lines.size()));
        } catch (IOException e) {
            return "";
        }
    }

    private Optional<TimelineHistory> newestTimelineHistory() throws IOException {
        Optional<Path> file;
        try (var list = Files.list(target.resolve("pg_wal"))) {
            file = list.filter(p -> p.getFileName().toString().matches("[0-9A-F]{8}\\.history"))
                    .max(Comparator.comparing(p -> p.getFileName().toString()));
        }
        if (file.isEmpty()) {
            return Optional.empty();
        }
        int tli = Integer.parseInt(file.get().getFileName().toString().substring(0, 8), 16);
        return Optional.of(TimelineHistory.parse(tli, Files.readString(file.get())));
    }

    /** Archive recovery replays WAL while the server already accepts connections; wait until it has promoted. */
    private void waitForPromotion(PgConnections conns, Path runDir) throws SQLException, IOException {
        long deadline = System.nanoTime() + recoveryTimeout.toNanos();
        SQLException last = null;
        while (System.nanoTime() < deadline) {
            cancel.throwIfCancelled();
            try (Connection c = conns.open("postgres");
                    Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("select pg_is_in_recovery()")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    return;
                }
            } catch (SQLException e) {
                last = e;
                if (!Files.exists(target.resolve("postmaster.pid"))) {
                    throw new PgException(
                            "recovery of " + target + " failed, the server stopped:\n" + tail(readLog(runDir), 30));
                }
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }
        throw new PgException("recovery of " + target + " did not finish within " + recoveryTimeout
                + (last == null ? "" : " (" + last.getMessage() + ")"));
    }

    /**
     * Validation promoted the copy with archiving off, so the new timeline's history file was not queued for the
     * archive. Queue it (archive_status/NAME.ready) so that when the copy is started as a primary with archiving on,
     * the new timeline's history reaches the repository first, as PostgreSQL would have done.
     */
    private void markNewTimelineForArchiving() {
        Path wal = target.resolve("pg_wal");
        try (var files = Files.list(wal)) {
            for (Path h : files.filter(p -> p.getFileName().toString().matches("[0-9A-F]{8}\\.history"))
                    .toList()) {
                Path status = wal.resolve("archive_status");
                String n = h.getFileName().toString();
                if (!Files.exists(status.resolve(n + ".done")) && !Files.exists(status.resolve(n + ".ready"))) {
                    Path ready = Files.createFile(status.resolve(n + ".ready"));
                    Files.setOwner(ready, Files.getOwner(target));
                }
            }
        } catch (IOException e) {
            log.warn("could not queue the new timeline's history file for archiving: {}", e.getMessage());
        }
    }

    private static String readLog(Path runDir) {
        try {
            return Files.readString(runDir.resolve("server.log"));
        } catch (IOException e) {
            return "(no server log)";
        }
    }

    /**
     * Runs the operator's assertions as a login role created for them in the copy and dropped afterwards: not a
     * superuser, BYPASSRLS (counts must see every row, as the source's owner does), CONNECT on their databases, USAGE
     * on every schema but the system ones and SELECT on their tables, views and sequences. The system catalogs stay as
     * readable as to any user: not pg_authid's password hashes nor user mappings' passwords. So a query reads the
     * data, changes nothing and cannot reach the host (see {@link UserAssertion}).
     */
    private List<UserAssertion.Result> runAssertions(CancellingConnections conns) throws SQLException {
        List<UserAssertion.Result> out = new ArrayList<>();
        if (assertions.isEmpty()) {
            return out;
        }
        String role = "lifeboat_assertion_"
                + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
        List<String> databases =
                assertions.stream().map(UserAssertion::database).distinct().toList();
        try (Connection c = conns.open("postgres");
                Statement st = c.createStatement()) {
            st.execute("create role " + role + " login nosuperuser nocreatedb nocreaterole noreplication bypassrls");
            // a sort or hash that spills may not fill the host's disk; a superuser-only setting the role cannot raise
            st.execute("alter role " + role + " set temp_file_limit = '" + ASSERTION_TEMP_FILE_LIMIT + "'");
        }
        ProgressTracker progress = new ProgressTracker("validate", "assertions", 0, assertions.size(), listener);
        try {
            for (String db : databases) {
                grantReading(conns, db, role);
            }
            PgConnections asRole = conns.as(role);
            for (UserAssertion a : assertions) {
                cancel.throwIfCancelled();
                UserAssertion.Result r;
                try (Connection c = asRole.open(a.database())) {
                    r = a.check(c, cancel);
                } catch (SQLException e) {
                    r = a.failed(e.getMessage());
                }
                cancel.throwIfCancelled(); // a query cancelled with the operation did not fail: the drill was stopped
                out.add(r);
                progress.fileDone();
            }
            progress.finish(out.stream().filter(UserAssertion.Result::passed).count() + " of " + out.size()
                    + " assertions passed");
        } finally {
            dropRole(conns, role, databases);
        }
        return out;
    }

    /** CONNECT on {@code db}, and USAGE and SELECT on everything in its non-system schemas, for {@code role}. */
    private static void grantReading(CancellingConnections conns, String db, String role) {
        try (Connection c = conns.open(db);
                Statement st = c.createStatement()) {
            st.execute("grant connect on database " + quoteIdent(db) + " to " + role);
            for (String schema : rows(
                            st,
                            "select nspname from pg_namespace where nspname !~ '^pg_' "
                                    + "and nspname <> 'information_schema' order by 1")
                    .stream()
                    .map(r -> r[0])
                    .toList()) {
                String q = quoteIdent(schema);
                st.execute("grant usage on schema " + q + " to " + role);
                st.execute("grant select on all tables in schema " + q + " to " + role);
                st.execute("grant select on all sequences in schema " + q + " to " + role);
            }
        } catch (SQLException e) {
            // its assertions fail on connecting, with the server's reason
            log.debug("cannot grant {} reading {}: {}", role, db, e.getMessage());
        }
    }

    /** Revokes the role's grants in each database it read (DROP OWNED is per database) and drops it. */
    private static void dropRole(CancellingConnections watched, String role, List<String> databases) {
        PgConnections conns = watched.unwatched(); // runs after a cancel too
        for (String db : databases) {
            try (Connection c = conns.open(db);
                    Statement st = c.createStatement()) {
                st.execute("drop owned by " + role);
            } catch (SQLException e) {
                log.debug("drop owned by {} in {}: {}", role, db, e.getMessage());
            }
        }
        try (Connection c = conns.open("postgres");
                Statement st = c.createStatement()) {
            st.execute("drop owned by " + role); // also its CONNECT grants: databases are shared objects
            st.execute("drop role " + role);
        } catch (SQLException e) {
            log.warn("could not drop the assertions' role {} from the copy: {}", role, e.getMessage());
        }
    }

    private void stop(PgBinaries bins, Path runDir, String osUser) {
        try {
            Processes.run(
                    Processes.asUser(
                            osUser,
                            List.of(
                                    bins.path("pg_ctl"),
                                    "-D",
                                    target.toString(),
                                    "-w",
                                    "-t",
                                    "120",
                                    "-m",
                                    "fast",
                                    "stop")),
                    Duration.ofMinutes(3));
        } catch (IOException e) {
            log.warn("stopping the validation server failed: {}", e.getMessage());
        }
    }

    private List<String> databases(PgConnections conns) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection c = conns.open("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select datname from pg_database where datallowconn order by datname")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    /** The longest a built-in check waits for a lock on a relation before the validation fails. */
    static final Duration CHECK_LOCK_TIMEOUT = Duration.ofMinutes(5);
    /** Temporary files one assertion's session may write (PostgreSQL's temp_file_limit). */
    static final String ASSERTION_TEMP_FILE_LIMIT = "1GB";

    /** TIDs listed per relation and check before the rest is summarised. */
    static final int TID_CAP = 10;

    private DatabaseReport checkDatabase(CancellingConnections conns, String db) throws SQLException {
        List<String> corruption = new ArrayList<>();
        List<TableCount> tables = new ArrayList<>();
        List<ForeignKeyCheck> fks = new ArrayList<>();
        int heaps = 0;
        int btrees = 0;
        int visibility = 0;
        int unlogged = 0;
        try (Connection c = conns.open(db)) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                // a relation a prepared transaction in the copy holds exclusively would block its check for ever
                st.execute("set local lock_timeout = '" + CHECK_LOCK_TIMEOUT.toSeconds() + "s'");
                // both extensions live only inside this transaction, which is rolled back: the copy is left as restored
                String amcheck = extensionSchema(st, "amcheck");
                String pgVisibility = extensionSchema(st, "pg_visibility");

                // amcheck where pg_amcheck applies it: verify_heapam on heap-AM tables, materialized views and TOAST
                // tables; bt_index_check on B-tree indexes of relkind 'i' that are valid, ready and live (never a
                // partitioned index 'I', which has no storage, nor an index a failed CREATE INDEX CONCURRENTLY left
                // invalid); temporary relations belong to sessions that are gone
                List<String[]> heapRels = rows(
                        st,
                        "select c.oid::text, c.oid::regclass::text from pg_class c "
                                + "join pg_am a on a.oid = c.relam where c.relkind in ('r', 'm', 't') and a.amname = "
                                + "'heap' "
                                + "and c.relpersistence <> 't' order by c.oid");
                for (String[] rel : heapRels) {
                    cancel.throwIfCancelled();
                    String sql = "select blkno, offnum, msg from " + amcheck + ".verify_heapam(" + rel[0]
                            + "::oid::regclass, on_error_stop => false, check_toast => true) limit " + (TID_CAP * 2);
                    guarded(st, corruption, rel[1], () -> {
                        try (ResultSet rs = st.executeQuery(sql)) {
                            while (rs.next()) {
                                corruption.add(rel[1] + " block " + rs.getLong(1) + " item " + rs.getInt(2) + ": "
                                        + rs.getString(3));
                            }
                        }
                    });
                    heaps++;
                }
                for (String[] idx : rows(
                        st,
                        "select c.oid::text, c.oid::regclass::text from pg_index i "
                                + "join pg_class c on c.oid = i.indexrelid join pg_am a on a.oid = c.relam "
                                + "where c.relkind = 'i' and a.amname = 'btree' and i.indisvalid and i.indisready and "
                                + "i.indislive "
                                + "and c.relpersistence <> 't' order by c.oid")) {
                    cancel.throwIfCancelled();
                    guarded(
                            st,
                            corruption,
                            "index " + idx[1],
                            () -> st.execute("select " + amcheck + ".bt_index_check(index => " + idx[0]
                                    + "::oid::regclass, heapallindexed => true)"));
                    btrees++;
                }

                // the visibility map: a page marked all-visible (or all-frozen) must hold only tuples visible to all
                // (frozen); a stale map makes index-only scans return rows a sequential scan does not. Every heap
                // relation has a visibility map (a missing fork reads as all bits clear)
                for (String[] rel : heapRels) {
                    cancel.throwIfCancelled();
                    for (String[] check : new String[][] {
                        {"pg_check_visible", "all-visible", "not visible to every transaction"},
                        {"pg_check_frozen", "all-frozen", "not frozen"}
                    }) {
                        guarded(st, corruption, rel[1], () -> {
                            List<String> tids = column(
                                    st,
                                    "select t::text from " + pgVisibility + "." + check[0] + "(" + rel[0]
                                            + "::oid::regclass) t limit " + (TID_CAP + 1));
                            if (!tids.isEmpty()) {
                                corruption.add(
                                        rel[1] + ": the visibility map marks pages " + check[1] + " that hold tuples "
                                                + check[2] + " at " + tidList(tids) + " (" + check[0] + ")");
                            }
                        });
                    }
                    visibility++;
                }

                // unlogged tables are not backed up (only their init fork is): PostgreSQL resets them to empty at the
                // end of recovery, so rows in one mean the copy holds data that no backup stored
                for (String[] rel : rows(
                        st,
                        "select c.oid::text, c.oid::regclass::text from pg_class c "
                                + "where c.relpersistence = 'u' and c.relkind in ('r', 'm', 't') order by c.oid")) {
                    cancel.throwIfCancelled();
                    guarded(st, corruption, rel[1], () -> {
                        long n = Long.parseLong(one(st, "select count(*) from " + rel[1]));
                        if (n > 0) {
                            corruption.add(
                                    "unlogged table " + rel[1] + " holds " + n + " rows; a restored copy must start "
                                            + "with unlogged tables empty (their data is never backed up)");
                        }
                    });
                    unlogged++;
                }

                // an unpopulated materialized view (WITH NO DATA) cannot be scanned: it has no rows to count
                for (String[] t : rows(
                        st,
                        "select c.oid::regclass::text, c.oid::text from pg_class c "
                                + "join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'm') and "
                                + "c.relispopulated "
                                + "and c.relpersistence <> 't' and n.nspname not in ('pg_catalog', "
                                + "'information_schema') "
                                + "and n.nspname not like 'pg_toast%' order by 1")) {
                    cancel.throwIfCancelled();
                    tables.add(new TableCount(t[0], Long.parseLong(one(st, "select count(*) from " + t[0]))));
                }
                for (String[] fk : rows(
                        st,
                        "select conname, conrelid::regclass::text, confrelid::regclass::text, "
                                + "(select string_agg(quote_ident(a.attname), ',' order by k.ord) from unnest(conkey) "
                                + "with ordinality k(n, ord) "
                                + " join pg_attribute a on a.attrelid = conrelid and a.attnum = k.n), "
                                + "(select string_agg(quote_ident(a.attname), ',' order by k.ord) from unnest(confkey) "
                                + "with ordinality k(n, ord) "
                                + " join pg_attribute a on a.attrelid = confrelid and a.attnum = k.n) "
                                + "from pg_constraint where contype = 'f' and conparentid = 0 order by 1")) {
                    String[] cols = fk[3].split(",");
                    String[] refCols = fk[4].split(",");
                    StringBuilder notNull = new StringBuilder();
                    StringBuilder match = new StringBuilder();
                    for (int i = 0; i < cols.length; i++) {
                        notNull.append(" and c.").append(cols[i]).append(" is not null");
                        match.append(i == 0 ? "" : " and ")
                                .append("p.")
                                .append(refCols[i])
                                .append(" = c.")
                                .append(cols[i]);
                    }
                    long violations = Long.parseLong(one(
                            st,
                            "select count(*) from " + fk[1] + " c where true" + notNull
                                    + " and not exists (select 1 from " + fk[2] + " p where " + match + ")"));
                    fks.add(new ForeignKeyCheck(fk[0], fk[1], fk[2], violations));
                }
            } finally {
                c.rollback();
            }
        }
        return new DatabaseReport(db, tables, heaps, btrees, visibility, unlogged, corruption, fks);
    }

    private interface Check {
        void run() throws SQLException;
    }

    /**
     * Runs one check under a savepoint: an error (amcheck reports B-tree corruption as one, and a damaged relation
     * can make any check fail) is recorded against the relation and the remaining checks go on.
     */
    private static void guarded(Statement st, List<String> corruption, String what, Check check) throws SQLException {
        st.execute("savepoint lifeboat_check");
        try {
            check.run();
            st.execute("release savepoint lifeboat_check");
        } catch (SQLException e) {
            st.execute("rollback to savepoint lifeboat_check");
            corruption.add(what + ": " + e.getMessage());
        }
    }

    /** The quoted schema of an extension, created (inside the caller's transaction) if the database lacks it. */
    private static String extensionSchema(Statement st, String extension) throws SQLException {
        if (!exists(st, "select 1 from pg_extension where extname = '" + extension + "'")) {
            st.execute("savepoint lifeboat_ext");
            try {
                st.execute("create extension " + extension);
                st.execute("release savepoint lifeboat_ext");
            } catch (SQLException e) {
                st.execute("rollback to savepoint lifeboat_ext");
                throw new SQLException(
                        "the " + extension + " extension is not available on the validation server ("
                                + e.getMessage().strip()
                                + "); install PostgreSQL's contrib modules (e.g. the postgresql-contrib "
                                + "package of this major version) and validate again",
                        e.getSQLState(),
                        e);
            }
        }
        return quoteIdent(one(
                st,
                "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace "
                        + "where e.extname = '" + extension + "'"));
    }

    private static String tidList(List<String> tids) {
        return String.join(", ", tids.subList(0, Math.min(TID_CAP, tids.size())))
                + (tids.size() > TID_CAP ? " and more" : "");
    }

    private static List<String> column(Statement st, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    private static boolean exists(Statement st, String sql) throws SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            return rs.next();
        }
    }

    private static String one(Statement st, String sql) throws SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static List<String[]> rows(Statement st, String sql) throws SQLException {
        List<String[]> out = new ArrayList<>();
        try (ResultSet rs = st.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                String[] row = new String[n];
                for (int i = 0; i < n; i++) {
                    row[i] = rs.getString(i + 1);
                }
                out.add(row);
            }
        }
        return out;
    }

    private static String quoteIdent(String s) {
        return "\"" + s.replace("\"", "\"\"") + "\"";
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static String tail(String s, int lines) {
        String[] all = s.split("\n");
        return String.join("\n", Arrays.copyOfRange(all, Math.max(0, all.length - lines), all.length));
    }

    static void deleteTree(Path root) {
        try (var walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
