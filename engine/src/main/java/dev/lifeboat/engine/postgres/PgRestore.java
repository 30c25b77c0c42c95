package dev.lifeboat.engine.postgres;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.progress.ProgressTracker;
import dev.lifeboat.repository.ChunkId;
import dev.lifeboat.repository.ChunkReader;
import dev.lifeboat.repository.ContentDigest;
import dev.lifeboat.repository.FileBackup;
import dev.lifeboat.repository.ReplayLease;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RepositoryException;
import dev.lifeboat.repository.RepositoryLock;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.util.DurableFiles;
import dev.lifeboat.util.Processes;
import dev.lifeboat.util.SelfCommand;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Restores a backup into an empty directory with N parallel streams. Every chunk is authenticated and checked
 * against its keyed id, and every file's SHA-256 against the manifest, as it is written. {@code global/pg_control}
 * is written last, so an interrupted or failed restore leaves a directory PostgreSQL refuses to start rather than a
 * silently damaged database.
 */
public final class PgRestore {
    /**
     * What the restored copy does with WAL archiving once it runs.
     * OFF (default): {@code archive_mode = off} in its postgresql.auto.conf, so a copy never archives into the
     * repository its source archives to. PRESERVE: the source's archiving settings stay (for a copy that is to
     * replace the source, e.g. after losing it); it still ends on a timeline of its own.
     */
    public enum ArchiveMode {
        OFF,
        PRESERVE
    }

    /**
     * @param recoveryTarget null restores the backup as it was when it ended ({@code recovery_target = 'immediate'});
     *                       otherwise the restored copy replays archived WAL to the target. Either way PostgreSQL
     *                       then promotes the copy to a new timeline.
     * @param walGetArgs     the repository arguments restore_command passes to {@code lifeboat wal-get}
     */
    public record Options(
            String backupId,
            Path target,
            int parallel,
            Map<String, Path> tablespaceMap,
            String owner,
            RecoveryTarget recoveryTarget,
            List<String> walGetArgs,
            ArchiveMode archiveMode,
            boolean endAtPlan) {
        public Options(String backupId, Path target, int parallel, Map<String, Path> tablespaceMap, String owner) {
            this(backupId, target, parallel, tablespaceMap, owner, null, List.of(), ArchiveMode.OFF);
        }

        public Options(
                String backupId,
                Path target,
                int parallel,
                Map<String, Path> tablespaceMap,
                String owner,
                RecoveryTarget recoveryTarget,
                List<String> walGetArgs,
                ArchiveMode archiveMode) {
            this(backupId, target, parallel, tablespaceMap, owner, recoveryTarget, walGetArgs, archiveMode, false);
        }

        /**
         * The same restore, but a recovery to the end of the archived WAL ends where the plan found the end, even if
         * the archive grows meanwhile (a live source): what a drill of "the database as of now" wants, and what lets
         * it end while the source keeps writing.
         */
        public Options endingAtPlan() {
            return new Options(
                    backupId, target, parallel, tablespaceMap, owner, recoveryTarget, walGetArgs, archiveMode, true);
        }

        public Options(
                String backupId,
                Path target,
                int parallel,
                Map<String, Path> tablespaceMap,
                String owner,
                RecoveryTarget recoveryTarget,
                List<String> walGetArgs) {
            this(backupId, target, parallel, tablespaceMap, owner, recoveryTarget, walGetArgs, ArchiveMode.OFF);
        }

        public Options {
            archiveMode = archiveMode == null ? ArchiveMode.OFF : archiveMode;
            walGetArgs = walGetArgs == null ? List.of() : walGetArgs;
        }
    }

    /**
     * @param modifiedFiles restored files changed after their manifest checksum (recovery settings)
     * @param clusterId     the copy's own cluster id (restore marker), which its backups and WAL will carry
     * @param replayLease   the lease that keeps expire from deleting archived WAL the copy's recovery still needs
     *                      (released when recovery ends; null for a restore to the end of the backup
     *                      or from a read-only region)
     * @param historyNote   which cluster's history "latest" followed, when not the highest-numbered timeline's
     *                      owner (null otherwise)
     * @param mustReplayPast for --to-latest: the LSN of the newest archived commit, which the copy's recovery must
     *                       replay (null otherwise); {@link PgValidator} checks it
     */
    public record Result(
            String backupId,
            Path target,
            long files,
            long bytes,
            double seconds,
            Map<String, String> tablespaces,
            String owner,
            String recoveryTarget,
            Integer targetTimeline,
            Instant recoverableUntil,
            List<String> modifiedFiles,
            String clusterId,
            String replayLease,
            String historyNote,
            String mustReplayPast) {
        public double bytesPerSecond() {
            return seconds > 0 ? bytes / seconds : 0;
        }
    }

    private static final String PG_CONTROL = "global/pg_control";

    private final Repository repo;
    private final Options opts;
    private final ProgressListener listener;
    private final Cancellation cancel;

    public PgRestore(Repository repo, Options opts, ProgressListener listener, Cancellation cancel) {
        this.repo = repo;
        this.opts = opts;
        this.listener = listener == null ? ProgressListener.NONE : listener;
        this.cancel = cancel == null ? Cancellation.none() : cancel;
    }

    public Result run() throws IOException {
        long t0 = System.nanoTime();
        // lock the repository (shared): gc and expire cannot delete what this restore reads
        try (RepositoryLock lock = RepositoryLock.acquire(
                repo, RepositoryLock.Mode.SHARED, "restore", opts.target().toString())) {
            // plan: which backup, and for a recovery target the replay that reaches it (timeline, WAL segments)
            Planned planned = plan();
            Snapshot snap = planned.backup();
            // check the target: the target and tablespace directories are empty; who will own the files
            Path target = opts.target().toAbsolutePath().normalize();
            Map<String, Path> spcLocations = checkTargets(target, snap);
            Owner owner = resolveOwner(snap);
            ChunkReader reader = new ChunkReader(repo, repo.loadIndex());
            // create directories and symlinks (tablespace links point to their new locations)
            Snapshot.FileEntry pgControl = createDirectories(snap, target, spcLocations, owner);
            // copy files: every file but pg_control, in parallel, each checked against the manifest as written
            Copied copied = copyFiles(snap, target, pgControl, reader, owner);
            // take a replay lease: while the shared lock still keeps expire out, so expire either ran before or sees
            // the lease and keeps the WAL from this backup's start on (a restore to the end of the backup needs none:
            // the backup holds its own WAL). A restore from a read-only region writes none: the replicator, which
            // deletes there what the primary's expire deleted, looks at no lease; a replay that meets a deleted
            // segment fails (wal-get --strict), it does not end short)
            ReplayLease.Lease lease = planned.plan() != null && !repo.store().readOnly()
                    ? ReplayLease.create(repo.store(), snap, target)
                    : null;
            try {
                // write the recovery files: what makes the directory recover as intended, each durable before
                // pg_control exists
                writeRecoveryFiles(planned, target, spcLocations, lease, owner);
                // write pg_control last: without it the directory cannot be started, so a failure above never looks
                // restorable
                writeControlFile(snap, target, spcLocations, pgControl, reader, owner, copied.progress());
            } catch (IOException | RuntimeException e) {
                if (lease != null) {
                    ReplayLease.release(repo.store(), lease.id());
                }
                throw e;
            }
            return result(planned, target, spcLocations, owner, copied, lease, t0);
        }
    }

    /**
     * The restore's plan.
     *
     * @param planner  the recovery planner (null without a recovery target)
     * @param plan     the replay to the recovery target (null without one)
     * @param target   the recovery target: the requested one, or the end of the backup on its timeline
     * @param timeline the timeline recovery follows
     */
    private record Planned(
            RecoveryPlanner planner, RecoveryPlanner.Plan plan, Snapshot backup, RecoveryTarget target, int timeline) {}

    private Planned plan() throws IOException {
        RecoveryPlanner.Plan plan = null;
        RecoveryPlanner planner = null;
        String id;
        if (opts.recoveryTarget() != null) {
            planner = new RecoveryPlanner(repo);
            plan = planner.plan(opts.recoveryTarget(), opts.backupId());
            id = plan.backup().id();
            refuseSharedTablespaces(planner.tablespacesCreatedDuringReplay(plan, opts.recoveryTarget()));
        } else {
            id = repo.resolveSnapshotId(opts.backupId());
        }
        Snapshot snap = repo.loadSnapshot(id);
        // every restore is an archive recovery that ends on a new timeline: without a target, at the end of the
        // backup (a copy that only did crash recovery would continue its source's timeline and WAL names)
        int backupTimeline = PostgresBackupInfo.of(snap).timeline();
        RecoveryTarget rt = opts.recoveryTarget() != null
                ? opts.recoveryTarget()
                : RecoveryTarget.immediate(backupTimeline > 0 ? backupTimeline : 1);
        int timeline = plan != null ? plan.targetTimeline() : Integer.parseInt(rt.timeline());
        return new Planned(planner, plan, snap, rt, timeline);
    }

    /** Refuses a target or tablespace directory that is not empty; returns where each tablespace goes. */
    private Map<String, Path> checkTargets(Path target, Snapshot snap) throws IOException {
        requireEmpty(target, "target directory");
        Map<String, Path> spcLocations = tablespaceLocations(snap);
        for (Path loc : spcLocations.values()) {
            requireEmpty(loc, "tablespace directory");
        }
        return spcLocations;
    }

    /** Creates the target, then the directories and symlinks of the backup; returns its pg_control entry. */
    private static Snapshot.FileEntry createDirectories(
            Snapshot snap, Path target, Map<String, Path> spcLocations, Owner owner) throws IOException {
        createDirectory(target, 0700, owner);
        return createTree(snap, target, spcLocations, owner);
    }

    /** What {@link #copyFiles} wrote: every file but pg_control, and the progress pg_control still adds to. */
    private record Copied(List<Snapshot.FileEntry> files, ProgressTracker progress) {}

    private Copied copyFiles(Snapshot snap, Path target, Snapshot.FileEntry pgControl, ChunkReader reader, Owner owner)
            throws IOException {
        List<Snapshot.FileEntry> files = new ArrayList<>(snap.files().stream()
                .filter(e -> e.kind() == Snapshot.Kind.FILE && e != pgControl)
                .toList());
        files.sort(Comparator.comparingLong(Snapshot.FileEntry::size).reversed());
        long total = snap.totalFileBytes();
        ProgressTracker progress = new ProgressTracker("restore", "copy", total, files.size() + 1, listener);
        writeFiles(snap.id(), target, files, reader, owner, progress);
        return new Copied(files, progress);
    }

    /**
     * backup_label, the restore marker, tablespace_map, the recovery settings in postgresql.auto.conf and
     * recovery.signal, each written durably; then the target directory is synced.
     */
    private void writeRecoveryFiles(
            Planned planned, Path target, Map<String, Path> spcLocations, ReplayLease.Lease lease, Owner owner)
            throws IOException {
        Snapshot snap = planned.backup();
        PostgresBackupInfo info = PostgresBackupInfo.of(snap);
        RecoveryTarget rt = planned.target();
        String marker = ClusterIdentity.newMarker(snap.id(), info.clusterId(), Instant.now());
        writeDurably(target, "backup_label", info.backupLabel(), owner);
        writeDurably(target, PgFileRules.RESTORE_MARKER, marker, owner);
        String spcMap = remapTablespaceMap(info, spcLocations);
        if (spcMap != null) {
            writeDurably(target, "tablespace_map", spcMap, owner);
        }
        RecoveryPlanner.Plan plan = planned.plan();
        writeRecoverySettings(
                target,
                rt,
                planned.timeline(),
                plan == null ? null : plan.lastSegment(),
                plan == null ? List.of() : plan.expectedRanges(planned.planner()),
                lease,
                owner);
        writeDurably(target, "recovery.signal", "", owner);
        fsyncDirectory(target);
    }

    /**
     * Syncs every directory of the target and of the tablespaces (their entries for the restored files), then writes
     * global/pg_control: a crash before it leaves no control file, and after it nothing is missing.
     */
    private void writeControlFile(
            Snapshot snap,
            Path target,
            Map<String, Path> spcLocations,
            Snapshot.FileEntry pgControl,
            ChunkReader reader,
            Owner owner,
            ProgressTracker progress)
            throws IOException {
        fsyncTree(target);
        for (Path loc : spcLocations.values()) {
            fsyncTree(loc);
        }
        writeFile(snap.id(), target, pgControl, reader, owner, progress, null);
        fsyncDirectory(target.resolve(pgControl.path()).getParent());
        progress.finish(null);
    }

    private Result result(
            Planned planned,
            Path target,
            Map<String, Path> spcLocations,
            Owner owner,
            Copied copied,
            ReplayLease.Lease lease,
            long t0)
            throws IOException {
        RecoveryPlanner.Plan plan = planned.plan();
        Map<String, String> spcOut = new HashMap<>();
        spcLocations.forEach((k, v) -> spcOut.put(k, v.toString()));
        return new Result(
                planned.backup().id(),
                target,
                copied.files().size() + 1L,
                copied.progress().bytesDone(),
                (System.nanoTime() - t0) / 1e9,
                spcOut,
                owner.user == null ? Processes.currentUser() : owner.user.getName(),
                planned.target().describe(),
                planned.timeline(),
                plan == null ? planned.backup().stopTime() : plan.recoverableUntil(),
                List.of("postgresql.auto.conf"),
                ClusterIdentity.of(target).clusterId(),
                lease == null ? null : lease.id(),
                plan == null ? null : plan.historyNote(),
                mustReplayPast(plan, planned.target()));
    }

    private static String mustReplayPast(RecoveryPlanner.Plan plan, RecoveryTarget rt) {
        return plan == null || rt.kind() != RecoveryTarget.Kind.LATEST || plan.newestCommitLsn() == null
                ? null
                : Lsn.format(plan.newestCommitLsn());
    }

    /** Creates the directories and symlinks of the backup; returns its pg_control entry. */
    private static Snapshot.FileEntry createTree(
            Snapshot snap, Path target, Map<String, Path> spcLocations, Owner owner) throws IOException {
        Snapshot.FileEntry pgControl = null;
        for (Snapshot.FileEntry e : snap.files()) {
            switch (e.kind()) {
                case DIRECTORY -> createDirectory(target.resolve(e.path()), e.mode(), owner);
                case SYMLINK -> {
                    Path link = target.resolve(e.path());
                    String oid = link.getFileName().toString();
                    Path dest = e.path().startsWith("pg_tblspc/") && spcLocations.containsKey(oid)
                            ? spcLocations.get(oid)
                            : Path.of(e.target());
                    if (e.path().startsWith("pg_tblspc/")) {
                        createDirectory(dest, 0700, owner);
                    }
                    Files.createSymbolicLink(link, dest);
                    owner.applyNoFollow(link);
                }
                case FILE -> {
                    if (e.path().equals(PG_CONTROL)) {
                        pgControl = e;
                    }
                }
            }
        }
        if (pgControl == null) {
            throw new RepositoryException.Corrupt("backup " + snap.id() + " has no global/pg_control");
        }
        return pgControl;
    }

    /** Files above this size are restored as several ranges in parallel (a 1 GiB relation segment would else take one
     * core). */
    private static final long SPLIT_ABOVE = 64L << 20;

    private static final long RANGE_BYTES = 32L << 20;

    /**
     * Part of a large file: chunk references [from, to) written at {@code offset}; {@code ids} (shared by the file's
     * ranges) collects the content ids for the file's digest.
     */
    private record Range(Snapshot.FileEntry file, int from, int to, long offset, AtomicInteger left, ChunkId[] ids) {}

    private void writeFiles(
            String id,
            Path target,
            List<Snapshot.FileEntry> files,
            ChunkReader reader,
            Owner owner,
            ProgressTracker progress)
            throws IOException {
        ConcurrentLinkedQueue<Object> queue = new ConcurrentLinkedQueue<>();
        for (Snapshot.FileEntry f : files) {
            if (f.size() > SPLIT_ABOVE && f.chunks().size() > 1) {
                Files.createFile(target.resolve(f.path()));
                List<Range> ranges = new ArrayList<>();
                AtomicInteger left = new AtomicInteger();
                ChunkId[] ids = new ChunkId[f.chunks().size()];
                long offset = 0;
                long rangeStart = 0;
                int from = 0;
                for (int i = 0; i < f.chunks().size(); i++) {
                    offset += reader.rawLength(f.chunks().get(i));
                    if (offset - rangeStart >= RANGE_BYTES || i == f.chunks().size() - 1) {
                        ranges.add(new Range(f, from, i + 1, rangeStart, left, ids));
                        from = i + 1;
                        rangeStart = offset;
                    }
                }
                left.set(ranges.size());
                queue.addAll(ranges);
            } else {
                queue.add(f);
            }
        }
        int workers = Math.max(1, opts.parallel());
        try (BackgroundFsyncs fsyncs = new BackgroundFsyncs(workers);
                ExecutorService pool = Executors.newFixedThreadPool(
                        workers, Thread.ofPlatform().name("restore-", 0).factory())) {
            List<Future<?>> futures = new ArrayList<>();
            for (int w = 0; w < workers; w++) {
                futures.add(pool.submit(() -> {
                    Object item;
                    while ((item = queue.poll()) != null) {
                        cancel.throwIfCancelled();
                        if (item instanceof Range r) {
                            writeRange(id, target, r, reader, owner, progress, fsyncs);
                        } else {
                            writeFile(id, target, (Snapshot.FileEntry) item, reader, owner, progress, fsyncs);
                        }
                    }
                    return null;
                }));
            }
            PgBackup.await(futures);
            fsyncs.await(); // every file durable before the caller writes pg_control
        }
    }

    /**
     * Writes one range of a large file at its offset. Every chunk is authenticated and checked against its keyed id
     * as it is read; the last range to finish checks the file's size and digest and finishes the file (mode, time,
     * owner, fsync).
     */
    private void writeRange(
            String id,
            Path target,
            Range r,
            ChunkReader reader,
            Owner owner,
            ProgressTracker progress,
            BackgroundFsyncs fsyncs)
            throws IOException {
        Snapshot.FileEntry f = r.file();
        Path out = target.resolve(f.path());
        long[] pos = {r.offset()};
        int[] next = {r.from()};
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.WRITE)) {
            reader.readWithIds(f.chunks().subList(r.from(), r.to()), (contentId, plain) -> {
                cancel.throwIfCancelled();
                r.ids()[next[0]++] = contentId;
                try {
                    ByteBuffer buf = ByteBuffer.wrap(plain);
                    while (buf.hasRemaining()) {
                        pos[0] += ch.write(buf, pos[0]);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                progress.addBytes(plain.length);
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } catch (RepositoryException.Corrupt e) {
            throw new RepositoryException.Corrupt(
                    "cannot restore " + f.path() + " from backup " + id + ": " + e.getMessage(), e);
        }
        if (r.left().decrementAndGet() == 0) {
            checkContent(id, f, Files.size(out), ContentDigest.of(Arrays.asList(r.ids())));
            Files.setPosixFilePermissions(out, FileBackup.permissions(f.mode()));
            Files.setLastModifiedTime(out, FileTime.fromMillis(f.mtimeMillis()));
            owner.apply(out);
            fsyncs.submit(out);
            progress.fileDone();
        }
    }

    /** Writes one whole file; made durable by {@code fsyncs}, or at once where that is null. */
    private void writeFile(
            String id,
            Path target,
            Snapshot.FileEntry f,
            ChunkReader reader,
            Owner owner,
            ProgressTracker progress,
            BackgroundFsyncs fsyncs)
            throws IOException {
        Path out = target.resolve(f.path());
        ContentDigest digest = new ContentDigest();
        long[] written = {0};
        try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            reader.readWithIds(f.chunks(), (contentId, plain) -> {
                cancel.throwIfCancelled();
                digest.add(contentId);
                try {
                    ByteBuffer buf = ByteBuffer.wrap(plain);
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                written[0] += plain.length;
                progress.addBytes(plain.length);
            });
            if (fsyncs == null) {
                ch.force(true);
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } catch (RepositoryException.Corrupt e) {
            throw new RepositoryException.Corrupt(
                    "cannot restore " + f.path() + " from backup " + id + ": " + e.getMessage(), e);
        }
        checkContent(id, f, written[0], digest.finish());
        Files.setPosixFilePermissions(out, FileBackup.permissions(f.mode()));
        Files.setLastModifiedTime(out, FileTime.fromMillis(f.mtimeMillis()));
        owner.apply(out);
        if (fsyncs != null) {
            fsyncs.submit(out);
        }
        progress.fileDone();
    }

    /**
     * Archive recovery: a restore_command that fetches WAL from this repository, the target, promotion, and a
     * recovery_end_command that removes these settings again once recovery has ended (so they are neither backed up
     * with the promoted copy nor applied to a standby made from it). Earlier recovery settings, e.g. from the restore
     * that made the backed-up cluster, are removed first.
     */
    private void writeRecoverySettings(
            Path target,
            RecoveryTarget rt,
            int timeline,
            String lastSegment,
            List<String> expected,
            ReplayLease.Lease lease,
            Owner owner)
            throws IOException {
        List<String> args = new ArrayList<>(List.of("wal-get"));
        args.addAll(opts.walGetArgs());
        // replay reads segments one by one: a background fetcher keeps the next ones downloaded (a subdirectory of
        // pg_wal, which PostgreSQL leaves alone and backups skip)
        Path prefetch = target.resolve("pg_wal").resolve("lifeboat-prefetch");
        createDirectory(prefetch, 0700, owner);
        args.addAll(List.of("--prefetch", "8", "--spool-dir", prefetch.toString()));
        if (lastSegment != null && lastSegment.endsWith(".partial")) {
            // the plan ends in the streaming receiver's in-progress segment: only it may be served from its partial
            args.addAll(List.of("--partial", lastSegment.substring(0, 24)));
        }
        if (opts.endAtPlan() && rt.kind() == RecoveryTarget.Kind.LATEST) {
            // a "latest" target is always planned, and a plan always ends somewhere (at least the backup's own end)
            if (lastSegment == null) {
                throw new IllegalStateException("a restore ending at its plan has no planned last segment");
            }
            args.addAll(List.of("--last", lastSegment.substring(0, 24)));
        }
        if (lease != null) {
            args.addAll(List.of("--lease", lease.id()));
        }
        if (rt.kind() != RecoveryTarget.Kind.IMMEDIATE) {
            // replaying archived WAL: a fetch that fails must stop recovery, never pass for the end of the archive
            // (the end of a backup needs only the WAL the backup holds, so there a failed fetch may fall back to it)
            args.add("--strict");
            if (!expected.isEmpty()) {
                args.addAll(List.of("--expect", String.join(",", expected)));
            }
        }
        args.add("%f");
        args.add("%p");
        String restoreCommand = SelfCommand.shellCommand(args);
        List<String> endArgs = new ArrayList<>(List.of("recovery-end", "--pgdata", target.toString()));
        if (lease != null) {
            endArgs.addAll(opts.walGetArgs());
            endArgs.addAll(List.of("--lease", lease.id()));
        }
        // a failing recovery_end_command only logs a warning, but one the shell cannot run stops the server: never that
        String endCommand = SelfCommand.shellCommand(endArgs) + " || true";
        RecoveryTarget pinned = rt.kind() == RecoveryTarget.Kind.IMMEDIATE
                ? rt
                : new RecoveryTarget(
                        rt.kind(),
                        rt.value(),
                        rt.exclusive(),
                        rt.timeline() == null || rt.timeline().equals("latest")
                                ? Integer.toString(timeline)
                                : rt.timeline());
        Path auto = target.resolve("postgresql.auto.conf");
        String existing = Files.exists(auto) ? Files.readString(auto) : "";
        String conf = RecoverySettings.replace(
                existing,
                rt.describe(),
                restoreCommand,
                pinned.settings(),
                endCommand,
                opts.archiveMode() == ArchiveMode.OFF);
        writeDurably(target, "postgresql.auto.conf", conf, owner);
    }

    /** Writes a file of the restored directory durably (temporary file, fsync, rename), 0600, owned like the rest. */
    private static void writeDurably(Path target, String name, String content, Owner owner) throws IOException {
        if (content != null) {
            DurableFiles.replace(
                    target.resolve(name),
                    content.getBytes(StandardCharsets.UTF_8),
                    PosixFilePermissions.fromString("rw-------"),
                    owner::apply);
        }
    }

    static void fsyncDirectory(Path dir) throws IOException {
        DurableFiles.fsyncDirectory(dir);
    }

    /** Tablespace OID → where to restore it: --tablespace-map entries, else the original location. */
    private Map<String, Path> tablespaceLocations(Snapshot snap) {
        Map<String, Path> out = new HashMap<>();
        if (snap.tablespaces() == null) {
            return out;
        }
        Map<String, Path> map = opts.tablespaceMap() == null ? Map.of() : opts.tablespaceMap();
        for (Snapshot.Tablespace t : snap.tablespaces()) {
            Path p = map.getOrDefault(t.oid(), map.get(t.name()));
            out.put(
                    t.oid(),
                    (p != null ? p : Path.of(t.location())).toAbsolutePath().normalize());
        }
        for (String key : map.keySet()) {
            boolean known = snap.tablespaces().stream()
                    .anyMatch(t -> t.oid().equals(key) || t.name().equals(key));
            if (!known) {
                throw new IllegalArgumentException(
                        "--tablespace-map " + key + ": backup has no tablespace with that OID or name");
            }
        }
        return out;
    }

    private static String remapTablespaceMap(PostgresBackupInfo info, Map<String, Path> locations) {
        String map = info.tablespaceMap();
        if (map == null || map.isBlank()) {
            return null;
        }
        StringBuilder sb = new StringBuilder();
        for (String line : map.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String oid = line.substring(0, line.indexOf(' '));
            Path loc = locations.get(oid);
            sb.append(oid)
                    .append(' ')
                    .append(loc != null ? loc.toString() : line.substring(line.indexOf(' ') + 1))
                    .append('\n');
        }
        return sb.toString();
    }

    /**
     * Refuses a recovery that would replay CREATE TABLESPACE into a location that exists here and is not empty,
     * such as the source's live tablespace on the source's host: in recovery, PostgreSQL's redo reuses the location,
     * removing and recreating its version directory ({@code create_tablespace_directories} in tablespace.c), and the
     * copy would share and damage the files. --tablespace-map cannot move it: the location comes from the WAL record.
     */
    private static void refuseSharedTablespaces(List<WalInspector.TablespaceCreation> created) throws IOException {
        for (WalInspector.TablespaceCreation c : created) {
            // an empty location is an in-place tablespace (allow_in_place_tablespaces), under pg_tblspc
            if (!c.location().isEmpty() && isNonEmptyDirectory(Path.of(c.location()))) {
                String lsn = Lsn.format(c.lsn());
                throw new IllegalArgumentException("recovery would replay CREATE TABLESPACE of tablespace " + c.oid()
                        + " at " + lsn + " with location " + c.location() + ", which exists on this host and is not "
                        + "empty (on the source's host: the source's own tablespace); PostgreSQL would reuse it "
                        + "and the copy would write into its files. Restore on another host, or stop before " + lsn
                        + " (--to-lsn " + lsn + " --exclusive, or an earlier --to-time), or, if nothing uses "
                        + c.location() + " any more, move it aside");
            }
        }
    }

    private static boolean isNonEmptyDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return Files.exists(dir, LinkOption.NOFOLLOW_LINKS);
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            return ds.iterator().hasNext();
        }
    }

    static void requireEmpty(Path dir, String what) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(what + " " + dir + " exists and is not a directory");
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            if (ds.iterator().hasNext()) {
                throw new IllegalArgumentException(
                        what + " " + dir + " is not empty; restore into an empty or new directory"
                                + (what.startsWith("tablespace")
                                        ? " (use --tablespace-map OID=DIR to move a tablespace)"
                                        : ""));
            }
        }
    }

    private static void createDirectory(Path dir, int mode, Owner owner) throws IOException {
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, FileBackup.permissions(mode));
        owner.apply(dir);
    }

    private static void fsyncTree(Path root) throws IOException {
        try (var walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                        ch.force(true);
                    }
                }
            }
        }
    }

    private static void checkContent(String id, Snapshot.FileEntry f, long size, String digest) {
        if (size != f.size() || !digest.equals(f.digest())) {
            throw new RepositoryException.Corrupt(
                    "restored " + f.path() + " from backup " + id + " does not match its manifest " + "(size " + size
                            + " vs " + f.size() + ", digest " + digest + " vs " + f.digest() + ")");
        }
    }

    /** Who owns restored files: when root, the backup's owner (or --owner); otherwise whoever runs the restore. */
    private record Owner(UserPrincipal user, GroupPrincipal group) {
        void apply(Path p) throws IOException {
            if (user != null) {
                PosixFileAttributeView v = Files.getFileAttributeView(p, PosixFileAttributeView.class);
                v.setOwner(user);
                if (group != null) {
                    v.setGroup(group);
                }
            }
        }

        void applyNoFollow(Path p) throws IOException {
            if (user != null) {
                PosixFileAttributeView v =
                        Files.getFileAttributeView(p, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
                v.setOwner(user);
                if (group != null) {
                    v.setGroup(group);
                }
            }
        }
    }

    private Owner resolveOwner(Snapshot snap) throws IOException {
        if (!Processes.isRoot()) {
            if (opts.owner() != null && !opts.owner().equals(Processes.currentUser())) {
                throw new IllegalArgumentException(
                        "--owner " + opts.owner() + " needs root; run the restore as that user instead");
            }
            return new Owner(null, null);
        }
        String name = opts.owner() != null
                ? opts.owner()
                : Objects.requireNonNullElse(PostgresBackupInfo.of(snap).pgdataOwner(), "postgres");
        UserPrincipalLookupService lookup = FileSystems.getDefault().getUserPrincipalLookupService();
        try {
            UserPrincipal user = lookup.lookupPrincipalByName(name);
            GroupPrincipal group = null;
            String groupName = snap.files().stream()
                    .filter(f -> f.path().equals("PG_VERSION"))
                    .map(Snapshot.FileEntry::group)
                    .findFirst()
                    .orElse(null);
            if (groupName != null && opts.owner() == null) {
                try {
                    group = lookup.lookupPrincipalByGroupName(groupName);
                } catch (UserPrincipalNotFoundException ignored) {
                    // keep root's group
                }
            }
            return new Owner(user, group);
        } catch (UserPrincipalNotFoundException e) {
            throw new IllegalArgumentException(
                    "user '" + name + "' who owned the backed-up cluster does not exist here; " + "pass --owner USER");
        }
    }
}
