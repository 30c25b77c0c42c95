package dev.lifeboat.engine.postgres;

import dev.lifeboat.engine.postgres.walsummary.ModifiedBlocks;
import dev.lifeboat.engine.postgres.walsummary.RelationFile;
import dev.lifeboat.engine.postgres.walsummary.WalSummarizer;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.progress.ProgressTracker;
import dev.lifeboat.repository.ChunkIndex;
import dev.lifeboat.repository.ChunkReader;
import dev.lifeboat.repository.ChunkRefs;
import dev.lifeboat.repository.ChunkWriter;
import dev.lifeboat.repository.ContentDigest;
import dev.lifeboat.repository.FileBackup;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RepositoryBinding;
import dev.lifeboat.repository.RepositoryConfig;
import dev.lifeboat.repository.RepositoryLock;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.chunking.Chunker;
import dev.lifeboat.repository.chunking.FastCdcChunker;
import dev.lifeboat.repository.chunking.FixedBlockChunker;
import dev.lifeboat.util.Hosts;
import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributes;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An online full backup of a running PostgreSQL cluster with the non-exclusive low-level API: one connection holds
 * {@code pg_backup_start} … {@code pg_backup_stop} open while PGDATA (and every tablespace) is read straight from
 * disk. A temporary physical replication slot created on that connection before the backup starts keeps the server
 * from recycling the WAL between the start and stop LSN, which is then copied into the backup, so it restores
 * consistently with no WAL archive. If this process dies, the server ends the session: the backup is aborted and
 * the temporary slot dropped.
 */
public final class PgBackup {
    private static final Logger log = LoggerFactory.getLogger(PgBackup.class);
    private static final DateTimeFormatter ID_TIME =
            DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);

    private final Repository repo;
    private final PgBackupOptions opts;
    private final ProgressListener listener;
    private final Cancellation cancel;

    public PgBackup(Repository repo, PgBackupOptions opts, ProgressListener listener, Cancellation cancel) {
        this.repo = repo;
        this.opts = opts;
        this.listener = listener == null ? ProgressListener.NONE : listener;
        this.cancel = cancel == null ? Cancellation.none() : cancel;
    }

    private record SourceFile(Path path, String relPath, PosixFileAttributes attrs, Snapshot.Stamp stamp) {
        SourceFile(Path path, String relPath, PosixFileAttributes attrs) throws IOException {
            this(path, relPath, attrs, stampOf(path));
        }
    }

    /** The file's stamp as the file system reports it now (null if it vanished). */
    static Snapshot.Stamp stampOf(Path p) throws IOException {
        try {
            Map<String, Object> a =
                    Files.readAttributes(p, "unix:dev,ino,ctime,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
            return new Snapshot.Stamp(
                    ((Number) a.get("dev")).longValue(),
                    ((Number) a.get("ino")).longValue(),
                    nanos((FileTime) a.get("ctime")),
                    nanos((FileTime) a.get("lastModifiedTime")));
        } catch (NoSuchFileException gone) {
            return null;
        }
    }

    private static long nanos(FileTime t) {
        return t.to(TimeUnit.NANOSECONDS);
    }

    public Snapshot run() throws IOException {
        String requestedType = opts.type() == null ? "full" : opts.type();
        if (!List.of("full", "incr", "diff").contains(requestedType)) {
            throw new IllegalArgumentException(
                    "backup type '" + requestedType + "' is unknown; use full, incr or diff");
        }
        PgDataDirectory pgdata = new PgDataDirectory(opts.pgdata()).requireCluster();
        long systemId = pgdata.systemIdentifier();
        ClusterIdentity identity = ClusterIdentity.of(pgdata.path());
        PgConnections conns = connectionFor(pgdata);
        Instant start = Instant.now();

        try (Connection conn = open(conns)) {
            // check the server: it runs the cluster at PGDATA and is a primary of a supported version
            Server server = checkServer(conn, pgdata, systemId);
            // bind the repository: it belongs to one cluster's system identifier (its WAL archive too)
            RepositoryBinding.requireOrBind(
                    repo, systemId, "backup of PGDATA " + pgdata.path() + " (" + identity.describe() + ")");
            int currentTimeline = checkpointTimeline(conn);
            String what = requestedType + " of " + pgdata.path();
            // lock the repository: the parent is chosen under the lock, so expire cannot delete it (and the chunks it
            // names) between the choice and the end of this backup
            try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, "backup", what)) {
                // choose the parent: for incr/diff the newest (full) backup of this line of history, else none
                Snapshot parent = chooseParent(requestedType, identity, currentTimeline, pgdata.path());
                // start the backup: a temporary replication slot keeps its WAL, then pg_backup_start
                Started started = startBackup(conn, start, parent == null ? "full" : requestedType, server);
                // list the files: PGDATA and the tablespaces' own directories, less what a restore must not hold
                Listing listing = listFiles(pgdata.path(), started.tablespaces());
                // summarize the WAL since the parent started: the relation blocks it changed (only those are read)
                ModifiedBlocks changed = changedSinceParent(conn, pgdata.path(), server, parent, started, listing);
                ChunkIndex index = repo.loadIndex(); // what the repository holds already (deduplication)
                try (ChunkWriter writer =
                        new ChunkWriter(repo, index, opts.compression(), Math.max(2, opts.parallel() * 2))) {
                    // copy the files: in parallel, page checksums checked, unchanged files and blocks taken over
                    // from the parent
                    ProgressTracker copy =
                            copyFiles(started, listing, parent, changed, index, writer, server.blockSize());
                    // stop the backup: pg_backup_stop gives the stop LSN, the backup label and the tablespace map
                    Stopped stopped = stopBackup(conn);
                    // copy the WAL from start to stop LSN into the backup, so that it restores on its own
                    copyWal(pgdata.path(), started, stopped, server.walSegmentSize(), writer, listing.entries());
                    // check the WAL was kept: the slot was not invalidated while the backup ran; drop it
                    dropSlot(conn, started.slot());
                    // store the last packs and the index of this backup's new chunks
                    writer.finish();
                    // write the manifest: the commit point, only while this process still holds the lock
                    return writeManifest(
                            lock, pgdata, identity, server, started, stopped, parent, listing, copy, writer);
                }
            }
        } catch (SQLException e) {
            throw new PgException(
                    "backup failed talking to PostgreSQL (" + conns.describe() + "): " + e.getMessage(), e);
        }
    }

    private static int checkpointTimeline(Connection conn) throws SQLException {
        return Integer.parseInt(queryOne(conn, "select timeline_id::text from pg_control_checkpoint()"));
    }

    /** The parent of an incremental or differential backup (null for a full one, or when there is none). */
    private Snapshot chooseParent(String requestedType, ClusterIdentity identity, int currentTimeline, Path pgdata)
            throws IOException {
        Snapshot parent = requestedType.equals("full")
                ? null
                : findParent(requestedType, identity, currentTimeline, timelineHistory(pgdata, currentTimeline));
        if (parent == null && !requestedType.equals("full")) {
            log.warn(
                    "no earlier backup of this cluster's line of history in {}: taking a full backup instead of {}",
                    repo.uri(),
                    requestedType);
        }
        return parent;
    }

    /**
     * A backup under way.
     *
     * @param timeline the timeline of the checkpoint the backup started from
     */
    private record Started(
            String id,
            String type,
            Instant start,
            String slot,
            long startLsn,
            int timeline,
            List<Snapshot.Tablespace> tablespaces) {}

    /**
     * The time a new backup's id starts with: its start, or one second after the newest id's when that is not earlier
     * (two backups in one second, or a clock set back). Ids sort in the order backups were taken, which "latest"
     * relies on: by name alone, a full and an incremental of the same second sorted by type letter and random suffix.
     */
    static Instant idTime(Instant start, List<String> existingIds) {
        Instant t = start.truncatedTo(ChronoUnit.SECONDS);
        if (!existingIds.isEmpty()) {
            String last = existingIds.getLast();
            try {
                Instant newest = Instant.from(ID_TIME.parse(last.substring(0, Math.min(last.length(), 15))));
                if (!t.isAfter(newest)) {
                    t = newest.plusSeconds(1);
                }
            } catch (DateTimeException | IndexOutOfBoundsException e) {
                // an id of another form: nothing to order against
            }
        }
        return t;
    }

    /** Creates the slot that keeps the backup's WAL and starts the backup on this connection. */
    private Started startBackup(Connection conn, Instant start, String type, Server server)
            throws SQLException, IOException {
        String id = ID_TIME.format(idTime(start, repo.listSnapshotIds()))
                + (type.equals("full") ? "F" : type.equals("diff") ? "D" : "I") + "-"
                + HexFormat.of().toHexDigits((short) ThreadLocalRandom.current().nextInt());
        String slot = "lifeboat_" + id.replaceAll("[^0-9a-zA-Z]", "_").toLowerCase();
        exec(conn, "select pg_create_physical_replication_slot('" + slot + "', true, true)");
        String startLsn = queryOne(conn, "select pg_backup_start('lifeboat " + id + "', true)::text");
        int timeline = checkpointTimeline(conn);
        log.info("backup {} started at {} on timeline {}", id, startLsn, timeline);
        if (server.dataChecksums()) {
            pageChecksums = new PageChecksums(
                    server.blockSize(),
                    Long.parseLong(queryOne(conn, "select blocks_per_segment::text from pg_control_init()")),
                    Lsn.parse(startLsn));
        }
        return new Started(id, type, start, slot, Lsn.parse(startLsn), timeline, tablespaces(conn));
    }

    /** What the walk found: entries for directories and symlinks (files are added as they are copied), and files. */
    private record Listing(List<Snapshot.FileEntry> entries, List<SourceFile> files) {}

    private Listing listFiles(Path pgdata, List<Snapshot.Tablespace> tablespaces) throws IOException {
        List<Snapshot.FileEntry> entries = Collections.synchronizedList(new ArrayList<>());
        List<SourceFile> files = new ArrayList<>();
        scan(pgdata, "", entries, files, tablespaces);
        return new Listing(entries, files);
    }

    /** Copies every listed file, largest first; returns the copy's progress (its bytes are the bytes gone through). */
    private ProgressTracker copyFiles(
            Started started,
            Listing listing,
            Snapshot parent,
            ModifiedBlocks changed,
            ChunkIndex index,
            ChunkWriter writer,
            int pageSize)
            throws IOException {
        List<SourceFile> files = listing.files();
        files.sort(Comparator.comparingLong((SourceFile f) -> f.attrs().size()).reversed());
        long total = files.stream().mapToLong(f -> f.attrs().size()).sum();
        ProgressTracker copy = new ProgressTracker("backup", "copy", total, files.size(), listener);
        ChunkReader deltaReader = parent == null ? null : new ChunkReader(repo, index);
        copyInParallel(
                files,
                writer,
                repo.config().chunking(),
                copy,
                listing.entries(),
                parent,
                changed,
                deltaReader,
                index,
                pageSize);
        copy.finish(null);
        String bad = pageChecksums == null ? "" : pageChecksums.describe();
        if (!bad.isEmpty()) {
            log.warn(
                    "backup {}: page checksum failures (the pages were backed up as they are on disk): {}",
                    started.id(),
                    bad);
        }
        cancel.throwIfCancelled();
        return copy;
    }

    /**
     * What {@code pg_backup_stop} returned.
     *
     * @param tablespaceMap null when blank
     */
    private record Stopped(long stopLsn, String backupLabel, String tablespaceMap) {
        /** The label's {@code START WAL LOCATION} ({@code 0/2000028 (file …)}), or "" if it has none. */
        String startWal() {
            return parseLabel(backupLabel).getOrDefault("START WAL LOCATION", "");
        }
    }

    /** Writes the manifest, which makes the backup exist: only while this process still holds the lock. */
    private Snapshot writeManifest(
            RepositoryLock lock,
            PgDataDirectory pgdata,
            ClusterIdentity identity,
            Server server,
            Started started,
            Stopped stopped,
            Snapshot parent,
            Listing listing,
            ProgressTracker copy,
            ChunkWriter writer)
            throws IOException {
        List<Snapshot.FileEntry> entries = listing.entries();
        long bytesRead = copy.bytesDone() - skippedBytes.get() + walBytes(entries);
        Instant stopTime = Instant.now();
        List<Snapshot.FileEntry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparing(Snapshot.FileEntry::path));
        Snapshot.Stats stats = new Snapshot.Stats(
                bytesRead,
                writer.newBytes(),
                writer.storedBytes(),
                sorted.stream().filter(f -> f.kind() == Snapshot.Kind.FILE).count(),
                writer.totalChunks(),
                writer.newChunks(),
                (stopTime.toEpochMilli() - started.start().toEpochMilli()) / 1000.0);
        String checksumFailures = pageChecksums == null ? "" : pageChecksums.describe();
        PostgresBackupInfo info = new PostgresBackupInfo(
                server.version(),
                server.versionNum(),
                server.systemIdentifier(),
                server.walSegmentSize(),
                server.blockSize(),
                server.dataChecksums(),
                server.superuser(),
                server.pgdataOwner(),
                identity.clusterId(),
                started.timeline(),
                started.startLsn(),
                stopped.stopLsn(),
                stopped.startWal(),
                stopped.backupLabel(),
                stopped.tablespaceMap(),
                pageChecksums == null ? null : pageChecksums.pagesChecked(),
                checksumFailures.isEmpty() ? null : checksumFailures);
        Snapshot snap = new Snapshot(
                started.id(),
                started.type(),
                PostgresEngine.NAME,
                parent == null ? null : parent.id(),
                started.start(),
                stopTime,
                Hosts.name(),
                pgdata.path().toString(),
                opts.compression().label(),
                info,
                started.tablespaces(),
                sorted,
                stats);
        // a holder frozen past its lease may have been declared stale, and gc may have run
        lock.assertHeld();
        repo.saveSnapshot(snap);
        log.info("backup {} complete: {} bytes read, {} bytes stored", started.id(), bytesRead, stats.bytesStored());
        return snap;
    }

    private static long walBytes(List<Snapshot.FileEntry> entries) {
        synchronized (entries) {
            return entries.stream()
                    .filter(e -> e.path().startsWith("pg_wal/") && e.kind() == Snapshot.Kind.FILE)
                    .mapToLong(Snapshot.FileEntry::size)
                    .sum();
        }
    }

    private PgConnections connectionFor(PgDataDirectory pgdata) throws IOException {
        return connectionFor(pgdata, opts.host(), opts.port(), opts.user());
    }

    /**
     * How to reach the server: --pghost/--pgport if given (a host starting with '/' is a socket directory), else the
     * socket directory and port the running server wrote into PGDATA/postmaster.pid.
     */
    public static PgConnections connectionFor(PgDataDirectory pgdata, String host, Integer port, String userOpt)
            throws IOException {
        String user = userOpt != null ? userOpt : defaultUser();
        if (host != null) {
            int p = port != null
                    ? port
                    : pgdata == null
                            ? 5432
                            : pgdata.postmaster()
                                    .map(PgDataDirectory.Postmaster::port)
                                    .orElse(5432);
            return host.startsWith("/")
                    ? PgConnections.socket(host, p, user)
                    : new PgConnections(host, p, user, System.getenv("PGPASSWORD"));
        }
        if (pgdata == null) {
            throw new IllegalArgumentException("pass --pgdata (or --pghost/--pgport) to say which server to use");
        }
        var pm = pgdata.postmaster()
                .orElseThrow(() -> new PgException("PostgreSQL is not running on " + pgdata.path()
                        + " (no postmaster.pid): start it, or pass --pghost/--pgport for the server "
                        + "that runs this cluster"));
        int p = port != null ? port : pm.port();
        if (!pm.socketDirectory().isEmpty()) {
            return PgConnections.socket(pm.socketDirectory(), p, user);
        }
        String h = pm.listenAddress().isEmpty() || pm.listenAddress().equals("*")
                ? "127.0.0.1"
                : pm.listenAddress().split(",")[0].strip();
        return new PgConnections(h, p, user, System.getenv("PGPASSWORD"));
    }

    static String defaultUser() {
        String env = System.getenv("PGUSER");
        if (env != null && !env.isBlank()) {
            return env;
        }
        return Processes.isRoot() ? "postgres" : Processes.currentUser();
    }

    private static Connection open(PgConnections conns) {
        try {
            return conns.open("postgres");
        } catch (SQLException e) {
            throw new PgException("cannot connect to PostgreSQL (" + conns.describe() + "): " + e.getMessage(), e);
        }
    }

    /**
     * What the server says about itself, for the manifest.
     *
     * @param version    {@code server_version}
     * @param versionNum {@code server_version_num}
     */
    private record Server(
            String version,
            int versionNum,
            long systemIdentifier,
            long walSegmentSize,
            int blockSize,
            boolean dataChecksums,
            String superuser,
            String pgdataOwner) {}

    /** Checks that the server we reached runs the cluster at PGDATA, and collects its metadata. */
    private Server checkServer(Connection conn, PgDataDirectory pgdata, long systemId)
            throws SQLException, IOException {
        long serverSystemId = Long.parseLong(queryOne(conn, "select system_identifier::text from pg_control_system()"));
        if (serverSystemId != systemId) {
            throw new PgException(
                    "the server reached is not the cluster at " + pgdata.path() + ": its system identifier is "
                            + Long.toUnsignedString(serverSystemId) + ", PGDATA's is " + Long.toUnsignedString(systemId)
                            + "; point --pghost/--pgport at the server that runs this PGDATA");
        }
        String dataDir = queryOneOrNull(conn, "select setting from pg_settings where name = 'data_directory'");
        if (dataDir != null
                && !Path.of(dataDir).toRealPath().equals(pgdata.path().toRealPath())) {
            throw new PgException("the server reached runs the data directory " + dataDir + ", not " + pgdata.path()
                    + " (a copy of the same cluster); point --pghost/--pgport at the server that runs this PGDATA");
        }
        int versionNum = Integer.parseInt(queryOne(conn, "show server_version_num"));
        if (versionNum < 150000) {
            throw new PgException("PostgreSQL " + queryOne(conn, "show server_version")
                    + " is not supported; Lifeboat needs 15 or newer");
        }
        if ("t".equals(queryOne(conn, "select pg_is_in_recovery()::text"))) {
            throw new PgException(
                    "the server is a standby; back up the primary (backups from standbys are not supported yet)");
        }
        return new Server(
                queryOne(conn, "show server_version"),
                versionNum,
                systemId,
                Long.parseLong(queryOne(conn, "select setting from pg_settings where name = 'wal_segment_size'")),
                Integer.parseInt(queryOne(conn, "show block_size")),
                "on".equals(queryOne(conn, "show data_checksums")),
                queryOne(conn, "select rolname from pg_roles where oid = 10"),
                pgdata.owner());
    }

    private List<Snapshot.Tablespace> tablespaces(Connection conn) throws SQLException {
        List<Snapshot.Tablespace> out = new ArrayList<>();
        try (Statement st = conn.createStatement();
                ResultSet rs =
                        st.executeQuery("select oid::text, spcname, pg_tablespace_location(oid) from pg_tablespace "
                                + "where spcname not in ('pg_default', 'pg_global') order by oid")) {
            while (rs.next()) {
                out.add(new Snapshot.Tablespace(rs.getString(1), rs.getString(2), rs.getString(3)));
            }
        }
        return out;
    }

    /** Walks PGDATA (and tablespaces through pg_tblspc), recording directories and symlinks and queueing files. */
    private void scan(
            Path root,
            String rel,
            List<Snapshot.FileEntry> entries,
            List<SourceFile> files,
            List<Snapshot.Tablespace> tablespaces)
            throws IOException {
        Path dir = rel.isEmpty() ? root : root.resolve(rel);
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            ds.forEach(children::add);
        } catch (NoSuchFileException gone) {
            return;
        }
        children.sort(null);
        for (Path child : children) {
            String name = child.getFileName().toString();
            String childRel = rel.isEmpty() ? name : rel + "/" + name;
            PosixFileAttributes a;
            try {
                a = FileBackup.attributes(child);
            } catch (NoSuchFileException gone) {
                continue; // dropped while we walked
            }
            if (a.isSymbolicLink() && childRel.equals("pg_wal")) {
                // WAL on another disk (initdb -X): restore it as a plain directory, never through the original link
                entries.add(new Snapshot.FileEntry(
                        childRel,
                        Snapshot.Kind.DIRECTORY,
                        0700,
                        a.owner().getName(),
                        a.group().getName(),
                        a.lastModifiedTime().toMillis(),
                        0,
                        null,
                        null,
                        null));
                entries.add(new Snapshot.FileEntry(
                        "pg_wal/archive_status",
                        Snapshot.Kind.DIRECTORY,
                        0700,
                        a.owner().getName(),
                        a.group().getName(),
                        a.lastModifiedTime().toMillis(),
                        0,
                        null,
                        null,
                        null));
            } else if (a.isSymbolicLink()) {
                if (rel.equals("pg_tblspc")) {
                    Path target = Files.readSymbolicLink(child);
                    entries.add(new Snapshot.FileEntry(
                            childRel,
                            Snapshot.Kind.SYMLINK,
                            0777,
                            a.owner().getName(),
                            a.group().getName(),
                            a.lastModifiedTime().toMillis(),
                            0,
                            null,
                            null,
                            target.toString()));
                    scanTablespace(child.toRealPath(), childRel, entries, files);
                } else {
                    Path target = Files.readSymbolicLink(child);
                    entries.add(new Snapshot.FileEntry(
                            childRel,
                            Snapshot.Kind.SYMLINK,
                            0777,
                            a.owner().getName(),
                            a.group().getName(),
                            a.lastModifiedTime().toMillis(),
                            0,
                            null,
                            null,
                            target.toString()));
                }
            } else if (a.isDirectory()) {
                if (PgFileRules.skipDirectory(name)) {
                    continue;
                }
                entries.add(dirEntry(childRel, a));
                if (PgFileRules.keepEmpty(childRel)) {
                    if (childRel.equals("pg_wal") && Files.isDirectory(child.resolve("archive_status"))) {
                        entries.add(dirEntry(
                                "pg_wal/archive_status", FileBackup.attributes(child.resolve("archive_status"))));
                    }
                    continue;
                }
                scan(root, childRel, entries, files, tablespaces);
            } else if (a.isRegularFile()) {
                if (!PgFileRules.skipFile(childRel, child)) {
                    files.add(new SourceFile(child, childRel, a));
                }
            }
        }
    }

    /** Copies a tablespace's own version directory (PG_major_catversion); other clusters' directories stay out. */
    private void scanTablespace(Path location, String rel, List<Snapshot.FileEntry> entries, List<SourceFile> files)
            throws IOException {
        String prefix = "PG_" + new PgDataDirectory(opts.pgdata()).majorVersion() + "_";
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(location)) {
            for (Path p : ds) {
                if (p.getFileName().toString().startsWith(prefix) && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    String childRel = rel + "/" + p.getFileName();
                    entries.add(dirEntry(childRel, FileBackup.attributes(p)));
                    scanUnder(p, childRel, entries, files);
                }
            }
        }
    }

    private void scanUnder(Path dir, String rel, List<Snapshot.FileEntry> entries, List<SourceFile> files)
            throws IOException {
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            ds.forEach(children::add);
        } catch (NoSuchFileException gone) {
            return;
        }
        children.sort(null);
        for (Path child : children) {
            String childRel = rel + "/" + child.getFileName();
            PosixFileAttributes a;
            try {
                a = FileBackup.attributes(child);
            } catch (NoSuchFileException gone) {
                continue;
            }
            if (a.isDirectory()) {
                if (!PgFileRules.skipDirectory(child.getFileName().toString())) {
                    entries.add(dirEntry(childRel, a));
                    scanUnder(child, childRel, entries, files);
                }
            } else if (a.isRegularFile() && !PgFileRules.skipFile(childRel, child)) {
                files.add(new SourceFile(child, childRel, a));
            }
        }
    }

    private static Snapshot.FileEntry dirEntry(String rel, PosixFileAttributes a) {
        return new Snapshot.FileEntry(
                rel,
                Snapshot.Kind.DIRECTORY,
                FileBackup.mode(a.permissions()),
                a.owner().getName(),
                a.group().getName(),
                a.lastModifiedTime().toMillis(),
                0,
                null,
                null,
                null);
    }

    private final AtomicLong skippedBytes = new AtomicLong();

    /**
     * The backup an incremental (the newest) or differential (the newest full) builds on: only a backup of this very
     * line of history. A restored copy shares its source's system identifier, so the system identifier alone would
     * let an incremental of a copy build on production's newer backup (and restore production's rows); the cluster
     * id (see {@link ClusterIdentity}) tells them apart, and the timeline history rules out a backup taken on a branch
     * this cluster did not follow (e.g. before a pg_rewind onto another timeline).
     */
    private Snapshot findParent(String type, ClusterIdentity identity, int timeline, TimelineHistory history)
            throws IOException {
        List<String> ids = repo.listSnapshotIds();
        for (int i = ids.size() - 1; i >= 0; i--) {
            Snapshot s = repo.loadSnapshot(ids.get(i));
            if (!(s.engineInfo() instanceof PostgresBackupInfo e)
                    || e.systemIdentifier() != identity.systemIdentifier()
                    || !identity.clusterId().equals(e.clusterId())) {
                continue;
            }
            int tli = e.timeline();
            long stop = e.stopLsn();
            if (tli == 0 || stop == 0) {
                continue; // not recorded: no parent
            }
            if (!history.contains(tli, stop)) {
                log.info(
                        "backup {} (timeline {}) is not on the history of timeline {}: not a parent",
                        s.id(),
                        tli,
                        timeline);
                continue;
            }
            if (type.equals("incr") || s.type().equals("full")) {
                return s;
            }
        }
        return null;
    }

    /** The server's current timeline's history, from pg_wal (timeline 1 has none). */
    static TimelineHistory timelineHistory(Path pgdata, int timeline) throws IOException {
        if (timeline <= 1) {
            return new TimelineHistory(timeline, List.of());
        }
        Path f = pgdata.resolve("pg_wal").resolve(TimelineHistory.fileName(timeline));
        try {
            return TimelineHistory.parse(timeline, Files.readString(f));
        } catch (NoSuchFileException e) {
            // without it no earlier timeline can be vouched for: only backups of this timeline qualify
            log.warn("{} is missing: only backups taken on timeline {} can be parents", f, timeline);
            return new TimelineHistory(timeline, List.of());
        }
    }

    /**
     * A file is taken over from the parent backup without reading it when the file system reports exactly what it
     * reported when the parent listed it (size, device, inode, ctime and mtime to the nanosecond) and it was last
     * modified well before the parent started: every write, truncation or extension sets both times to the clock,
     * a file replaced by rename has a new inode, and ctime cannot be set back by tools that restore mtimes. The
     * two-second margin covers coarse file-system clocks (a write in the same tick as the parent's listing); a time
     * in the future (a clock stepped back) is never trusted. docs/repository-format.md argues this fork by fork.
     */
    private static Snapshot.FileEntry reusable(
            Map<String, Snapshot.FileEntry> parentFiles, Snapshot parent, SourceFile f, ChunkIndex index) {
        if (parent == null || f.relPath().equals("global/pg_control") || f.stamp() == null) {
            return null;
        }
        Snapshot.FileEntry p = parentFiles.get(f.relPath());
        long mtime = f.attrs().lastModifiedTime().toMillis();
        if (p == null
                || p.kind() != Snapshot.Kind.FILE
                || p.stamp() == null
                || !p.stamp().equals(f.stamp())
                || p.size() != f.attrs().size()
                || p.mtimeMillis() != mtime
                || mtime >= parent.startTime().toEpochMilli() - 2000
                || mtime > System.currentTimeMillis()) {
            return null;
        }
        for (String ref : p.chunks()) {
            for (var id : ChunkRefs.ids(ref)) {
                if (index.get(id) == null) {
                    return null; // the parent's data is not all there (e.g. a damaged index): read the file
                }
            }
        }
        return new Snapshot.FileEntry(
                p.path(),
                p.kind(),
                FileBackup.mode(f.attrs().permissions()),
                f.attrs().owner().getName(),
                f.attrs().group().getName(),
                mtime,
                p.size(),
                p.digest(),
                p.chunks(),
                null,
                f.stamp());
    }

    private void copyInParallel(
            List<SourceFile> files,
            ChunkWriter writer,
            RepositoryConfig.Chunking ck,
            ProgressTracker progress,
            List<Snapshot.FileEntry> entries,
            Snapshot parent,
            ModifiedBlocks changed,
            ChunkReader deltaReader,
            ChunkIndex index,
            int pageSize)
            throws IOException {
        Map<String, Snapshot.FileEntry> parentFiles = new HashMap<>();
        if (parent != null) {
            parent.files().forEach(e -> parentFiles.put(e.path(), e));
        }
        int blockSize = ck.relationBlockSize();
        ConcurrentLinkedQueue<Object> queue = new ConcurrentLinkedQueue<>();
        for (SourceFile f : files) {
            long size = f.attrs().size();
            if (!PgFileRules.isRelationFile(f.relPath()) || reusable(parentFiles, parent, f, index) != null) {
                queue.add(f);
                continue;
            }
            FileBackup.TakeOver takeOver =
                    takeOver(parentFiles.get(f.relPath()), f, changed, index, blockSize, pageSize);
            if (size > SPLIT_ABOVE || takeOver != null) {
                // a large relation file (up to 1 GiB per segment) is read as block-aligned ranges by all workers, and
                // so is one whose unchanged blocks are taken over from the parent
                FileBackup.DeltaSource delta = deltaSource(parentFiles.get(f.relPath()), deltaReader, pageSize);
                int n = (int) Math.max(1, (size + RANGE_BYTES - 1) / RANGE_BYTES);
                SplitFile split = new SplitFile(f, n, delta, takeOver);
                for (int i = 0; i < n; i++) {
                    long off = (long) i * RANGE_BYTES;
                    // the last range reads to wherever the file ends now (it may have grown since the scan)
                    int len = i == n - 1 ? Integer.MAX_VALUE - 2 * blockSize : RANGE_BYTES;
                    queue.add(new RangeTask(split, i, off, len));
                }
            } else {
                queue.add(f);
            }
        }
        int workers = Math.max(1, opts.parallel());
        int maxChunk = Math.max(ck.maxSize(), ck.relationBlockSize());
        FastCdcChunker cdc = new FastCdcChunker(ck.minSize(), ck.avgSize(), ck.maxSize(), ck.seed());
        FixedBlockChunker blocks = new FixedBlockChunker(ck.relationBlockSize());
        try (ExecutorService pool = Executors.newFixedThreadPool(
                workers, Thread.ofPlatform().name("backup-", 0).factory())) {
            List<Future<?>> futures = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                futures.add(pool.submit(() -> {
                    FileBackup reader = new FileBackup(maxChunk);
                    try (ChunkWriter.Session session = writer.session()) {
                        Object item;
                        while ((item = queue.poll()) != null) {
                            cancel.throwIfCancelled();
                            if (item instanceof RangeTask r) {
                                backupRange(r, reader, session, blockSize, progress, entries);
                                continue;
                            }
                            SourceFile f = (SourceFile) item;
                            Chunker chunker = PgFileRules.isRelationFile(f.relPath()) ? blocks : cdc;
                            Snapshot.FileEntry same = reusable(parentFiles, parent, f, index);
                            if (same != null) {
                                entries.add(same);
                                skippedBytes.addAndGet(same.size());
                                progress.addBytes(same.size());
                                progress.fileDone();
                                continue;
                            }
                            try {
                                FileBackup.DeltaSource delta = chunker == blocks
                                        ? deltaSource(parentFiles.get(f.relPath()), deltaReader, pageSize)
                                        : null;
                                entries.add(reader.backup(
                                                f.path(),
                                                f.relPath(),
                                                f.attrs(),
                                                chunker,
                                                session,
                                                progress,
                                                cancel,
                                                delta,
                                                pageCheck(f))
                                        .withStamp(f.stamp()));
                            } catch (NoSuchFileException gone) {
                                // dropped during the backup: WAL replay recreates or removes it consistently
                            }
                            progress.fileDone();
                        }
                    }
                    return null;
                }));
            }
            await(futures);
        }
    }

    /** Where changed blocks of a relation file find their previous version (incremental/differential only). */
    private static FileBackup.DeltaSource deltaSource(Snapshot.FileEntry previous, ChunkReader reader, int pageSize) {
        return reader != null && previous != null && previous.kind() == Snapshot.Kind.FILE
                ? new FileBackup.DeltaSource(previous.chunks(), reader, pageSize)
                : null;
    }

    /**
     * The blocks of a main-fork relation file the parent's copy still holds as they are (null when the file must be
     * read whole): a block is taken over when no WAL record between the parent's start and this backup's referenced
     * any of its pages, no truncation or re-creation of the relation reached it, it has the length it had in the
     * parent, its chunks are in the repository and its content id is recorded (plain chunks, and deltas written since
     * content ids are). docs/repository-format.md argues why that is enough, fork by fork.
     */
    private static FileBackup.TakeOver takeOver(
            Snapshot.FileEntry previous,
            SourceFile f,
            ModifiedBlocks changed,
            ChunkIndex index,
            int blockSize,
            int pageSize) {
        RelationFile rel = RelationFile.parse(f.relPath());
        if (changed == null || previous == null || previous.kind() != Snapshot.Kind.FILE || rel == null) {
            return null;
        }
        ModifiedBlocks.Changes changes = changed.changesIn(rel);
        long parentSize = previous.size();
        List<String> refs = previous.chunks();
        if (changes == null || blockSize % pageSize != 0 || refs.size() != (parentSize + blockSize - 1) / blockSize) {
            return null; // not a main fork, its database was replaced, or not cut into the fixed blocks assumed here
        }
        int pagesPerBlock = blockSize / pageSize;
        long limitBytes = changes.limit() == Long.MAX_VALUE ? Long.MAX_VALUE : changes.limit() * pageSize;
        String[] keep = new String[refs.size()];
        int kept = 0;
        for (int i = 0; i < keep.length; i++) {
            String ref = refs.get(i);
            long end = Math.min((long) (i + 1) * blockSize, parentSize);
            int firstPage = i * pagesPerBlock;
            int nextModified = changes.modified().nextSetBit(firstPage);
            if (ChunkRefs.contentId(ref) == null // a delta of an older manifest: read it to learn its content id
                    || end > limitBytes
                    || (nextModified >= 0 && nextModified < firstPage + pagesPerBlock)
                    || !ChunkRefs.ids(ref).stream().allMatch(id -> index.get(id) != null)) {
                continue;
            }
            keep[i] = ref;
            kept++;
        }
        if (kept == 0) {
            return null;
        }
        return (block, length) -> block < keep.length
                        && keep[block] != null
                        && length == Math.min(blockSize, parentSize - (long) block * blockSize)
                ? keep[block]
                : null;
    }

    /**
     * What the WAL from the parent's start to this backup's start changed (null: read every changed file whole).
     * Only for a parent on this very timeline, PostgreSQL 15 (whose record layouts the summarizer reads), and unless
     * {@code LIFEBOAT_WAL_SUMMARY=off}.
     */
    private ModifiedBlocks changedSinceParent(
            Connection conn, Path pgdata, Server server, Snapshot parent, Started started, Listing listing)
            throws SQLException {
        if (parent == null || !(parent.engineInfo() instanceof PostgresBackupInfo p)) {
            return null;
        }
        long relationBytes = listing.files().stream()
                .filter(f -> PgFileRules.isRelationFile(f.relPath()))
                .mapToLong(f -> f.attrs().size())
                .sum();
        String why = null;
        if ("off".equalsIgnoreCase(System.getenv("LIFEBOAT_WAL_SUMMARY"))) {
            why = "LIFEBOAT_WAL_SUMMARY=off";
        } else if (server.versionNum() / 10000 != 15) {
            why = "PostgreSQL " + server.version() + " (the summarizer reads 15's records)";
        } else if (p.timeline() != started.timeline()) {
            why = "the parent is on timeline " + p.timeline() + ", this backup on " + started.timeline();
        } else if (p.startLsn() <= 0 || p.startLsn() >= started.startLsn()) {
            why = "the parent's start LSN " + Lsn.format(p.startLsn()) + " is not before this backup's";
        } else if (p.blockSize() != server.blockSize() || p.walSegmentSize() != server.walSegmentSize()) {
            why = "the parent has another block or WAL segment size";
        } else if (started.startLsn() - p.startLsn() > Math.max(1L << 30, relationBytes)) {
            // more WAL than relation files (e.g. a differential long after its full): reading it would cost more
            // than it saves
            why = (started.startLsn() - p.startLsn()) / (1 << 20) + " MiB of WAL since the parent, more than the "
                    + relationBytes / (1 << 20) + " MiB of relation files";
        }
        if (why != null) {
            log.info("backup {}: changed relation files are read whole: {}", started.id(), why);
            return null;
        }
        int blocksPerSegment =
                Integer.parseInt(queryOne(conn, "select blocks_per_segment::text from pg_control_init()"));
        long t0 = System.nanoTime();
        long firstSegment = Lsn.segmentOf(p.startLsn(), server.walSegmentSize());
        long segments = Lsn.segmentOf(started.startLsn(), server.walSegmentSize()) - firstSegment + 1;
        ProgressTracker progress = new ProgressTracker(
                "backup", "wal-summary", segments * server.walSegmentSize(), (int) segments, listener);
        var summary = new WalSummarizer(
                        pgdata.resolve("pg_wal"),
                        new WalArchive(repo),
                        started.timeline(),
                        server.walSegmentSize(),
                        blocksPerSegment,
                        cancel,
                        progress)
                .summarize(p.startLsn(), started.startLsn());
        progress.finish(null);
        summary.ifPresent(sm -> log.info(
                "backup {}: WAL {} to {} summarized in {} ms ({} bytes, {} segments from the archive, {} block "
                        + "references)",
                started.id(),
                Lsn.format(p.startLsn()),
                Lsn.format(started.startLsn()),
                (System.nanoTime() - t0) / 1_000_000,
                sm.walBytes(),
                sm.segmentsFromArchive(),
                sm.blocks().referencedBlocks()));
        return summary.map(WalSummarizer.Summary::blocks).orElse(null);
    }

    /** Checks page checksums while relation files are read (null when the cluster has no data checksums). */
    private PageChecksums pageChecksums;

    private FileBackup.BlockCheck pageCheck(SourceFile f) {
        return pageChecksums != null && PgFileRules.isRelationFile(f.relPath())
                ? pageChecksums.forFile(f.path(), f.relPath())
                : null;
    }

    /** Files above this size are read as several block-aligned ranges in parallel. */
    private static final long SPLIT_ABOVE = 64L << 20;

    private static final int RANGE_BYTES = 32 << 20;

    /** A large file being backed up in ranges by several workers; the worker finishing the last range files it. */
    private static final class SplitFile {
        final SourceFile file;
        final FileBackup.RangeResult[] results;
        final FileBackup.DeltaSource delta;
        int done;
        boolean gone;

        final FileBackup.TakeOver takeOver;

        SplitFile(SourceFile file, int ranges, FileBackup.DeltaSource delta, FileBackup.TakeOver takeOver) {
            this.file = file;
            this.results = new FileBackup.RangeResult[ranges];
            this.delta = delta;
            this.takeOver = takeOver;
        }
    }

    private record RangeTask(SplitFile split, int index, long offset, int length) {}

    /**
     * Stores one range. Ranges finish in any order (the file's digest is built from the blocks' ids, not the bytes);
     * the worker finishing the last one adds the file to the manifest.
     */
    private void backupRange(
            RangeTask r,
            FileBackup reader,
            ChunkWriter.Session session,
            int blockSize,
            ProgressTracker progress,
            List<Snapshot.FileEntry> entries)
            throws IOException {
        SplitFile s = r.split();
        FileBackup.RangeResult res;
        boolean gone = false;
        try {
            // the last range reads to the current end (capped: growth beyond it is replayed from WAL)
            res = reader.backupRange(
                    s.file.path(),
                    r.offset(),
                    r.length() == RANGE_BYTES
                            ? RANGE_BYTES
                            : (int) Math.min(2L * RANGE_BYTES, Math.max(0, Files.size(s.file.path()) - r.offset())),
                    blockSize,
                    session,
                    s.delta,
                    (int) (r.offset() / blockSize),
                    pageCheck(s.file),
                    progress,
                    cancel,
                    s.takeOver);
            skippedBytes.addAndGet(res.takenOver());
        } catch (NoSuchFileException e) {
            res = new FileBackup.RangeResult(List.of(), List.of(), 0, 0);
            gone = true;
        }
        synchronized (s) {
            s.results[r.index()] = res;
            s.gone |= gone;
            if (++s.done < s.results.length) {
                return;
            }
        }
        if (!s.gone) {
            List<String> all = new ArrayList<>();
            ContentDigest digest = new ContentDigest();
            long size = 0;
            for (FileBackup.RangeResult part : s.results) {
                all.addAll(part.refs());
                part.contentIds().forEach(digest::add);
                size += part.length();
                if (part.length() < RANGE_BYTES) {
                    break; // the file was truncated while read: it ends here (WAL replay restores the rest)
                }
            }
            PosixFileAttributes a = s.file.attrs();
            entries.add(new Snapshot.FileEntry(
                    s.file.relPath(),
                    Snapshot.Kind.FILE,
                    FileBackup.mode(a.permissions()),
                    a.owner().getName(),
                    a.group().getName(),
                    a.lastModifiedTime().toMillis(),
                    size,
                    digest.finish(),
                    all,
                    null,
                    s.file.stamp()));
        }
        progress.fileDone();
    }

    static void await(List<Future<?>> futures) throws IOException {
        try {
            for (Future<?> f : futures) {
                f.get();
            }
        } catch (ExecutionException e) {
            futures.forEach(x -> x.cancel(true));
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new IOException(c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /** Copies the WAL segments from the start to the stop LSN (and timeline history files) into the backup. */
    private void copyWal(
            Path pgdata,
            Started started,
            Stopped stopped,
            long segSize,
            ChunkWriter writer,
            List<Snapshot.FileEntry> entries)
            throws IOException {
        int timeline = started.timeline();
        long startLsn = started.startLsn();
        long stopLsn = stopped.stopLsn();
        RepositoryConfig.Chunking ck = repo.config().chunking();
        Path walDir = pgdata.resolve("pg_wal");
        List<Path> wal = new ArrayList<>();
        for (long seg = Lsn.segmentOf(startLsn, segSize); seg <= Lsn.segmentOf(stopLsn, segSize); seg++) {
            Path p = walDir.resolve(Lsn.segmentName(timeline, seg, segSize));
            if (!Files.isRegularFile(p)) {
                throw new PgException("WAL segment " + p.getFileName() + " needed by this backup is missing from "
                        + walDir + " although a replication slot protected it");
            }
            wal.add(p);
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(walDir, "*.history")) {
            ds.forEach(wal::add);
        }
        long total = 0;
        for (Path p : wal) {
            total += Files.size(p);
        }
        ProgressTracker progress = new ProgressTracker("backup", "wal", total, wal.size(), listener);
        FileBackup reader = new FileBackup(ck.maxSize());
        FastCdcChunker cdc = new FastCdcChunker(ck.minSize(), ck.avgSize(), ck.maxSize(), ck.seed());
        // the segment holding the stop LSN is copied whole: other backends may insert records between the
        // backup-end record and pg_backup_stop's segment switch, and recovery to the end of the backup reads the
        // record after the backup end before it stops; the switch has already filled the rest with zeros and
        // flushed it (CopyXLogRecordToWAL, XLogInsertRecord), so there is no stale tail to trim
        try (ChunkWriter.Session session = writer.session()) {
            for (Path p : wal) {
                cancel.throwIfCancelled();
                entries.add(reader.backup(
                        p, "pg_wal/" + p.getFileName(), FileBackup.attributes(p), cdc, session, progress, cancel));
                progress.fileDone();
            }
        }
        progress.finish(null);
    }

    private Stopped stopBackup(Connection conn) throws SQLException {
        // wait_for_archive = false: the WAL the backup needs is copied into it; the call still switches segments
        try (Statement st = conn.createStatement();
                ResultSet rs = st.executeQuery("select lsn::text, labelfile, spcmapfile from pg_backup_stop(false)")) {
            rs.next();
            String spcMap = rs.getString(3);
            return new Stopped(
                    Lsn.parse(rs.getString(1)), rs.getString(2), spcMap == null || spcMap.isBlank() ? null : spcMap);
        }
    }

    /** Fails if the slot that kept the backup's WAL was invalidated (the WAL copied may be incomplete); drops it. */
    private static void dropSlot(Connection conn, String slot) throws SQLException {
        checkSlot(conn, slot);
        exec(conn, "select pg_drop_replication_slot('" + slot + "')");
    }

    private static void checkSlot(Connection conn, String slot) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement(
                "select coalesce(wal_status, '') from pg_replication_slots where slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next() || "lost".equals(rs.getString(1))) {
                    throw new PgException("the replication slot protecting this backup's WAL was invalidated "
                            + "(max_slot_wal_keep_size too small?); the backup is not usable");
                }
            }
        }
    }

    static Map<String, String> parseLabel(String label) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : label.split("\n")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                out.put(
                        line.substring(0, colon).strip(),
                        line.substring(colon + 1).strip());
            }
        }
        return out;
    }

    static String queryOne(Connection conn, String sql) throws SQLException {
        try (Statement st = conn.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            if (!rs.next()) {
                throw new SQLException("no row from: " + sql);
            }
            return rs.getString(1);
        }
    }

    static String queryOneOrNull(Connection conn, String sql) {
        try {
            return queryOne(conn, sql);
        } catch (SQLException e) {
            return null;
        }
    }

    static void exec(Connection conn, String sql) throws SQLException {
        try (Statement st = conn.createStatement()) {
            st.execute(sql);
        }
    }
}
