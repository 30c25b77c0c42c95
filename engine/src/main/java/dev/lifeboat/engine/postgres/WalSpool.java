package dev.lifeboat.engine.postgres;

import dev.lifeboat.repository.ReplayLease;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.util.SelfCommand;
import dev.lifeboat.util.SlicedIo;
import java.io.File;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asynchronous WAL archiving and fetching through a local spool directory, so PostgreSQL never waits on
 * object-store latency or a JVM start per segment.
 * <p>
 * Push: a background pusher (one per spool, guarded by a file lock) reads {@code pg_wal/archive_status/*.ready}
 * itself, archives segments in parallel ahead of PostgreSQL's requests and leaves {@code out/<name>.ok} once a
 * segment is durable in the repository; {@code wal-push} (the launcher script, without starting Java) just finds
 * that marker. The marker holds the {@link #fingerprint} of the exact file archived (device, inode, size, mtime in
 * nanoseconds), and is trusted only while the file in {@code pg_wal} still has it: a name alone says nothing about
 * the bytes (a restored copy, or a recycled file, can have the same name with other contents).
 * Get: after serving a segment, a background fetcher downloads the next segments into {@code in/}.
 */
public final class WalSpool {
    private static final Logger log = LoggerFactory.getLogger(WalSpool.class);
    private final Path spool;
    /**
     * The repository (and replication settings) this process archives into, {@link PushRequests#identity}: written
     * into every marker after the fingerprint, so a marker left by a pusher of another repository never counts.
     */
    private String identity = "";
    // the worker this process started per role: while it starts up (a JVM and the repository's key, about a second)
    // it holds no lock yet, and starting another one each time we look would only pay that start again
    private final Map<String, Process> started = new ConcurrentHashMap<>();
    private volatile Instant startedAt = Instant.MAX;

    public WalSpool(Path spool) throws IOException {
        this.spool = spool.toAbsolutePath();
        Files.createDirectories(this.spool.resolve("out"));
        Files.createDirectories(this.spool.resolve("in"));
    }

    /** The launcher's settings key of the wal-push call (see bin/lifeboat), passed on to the JVM path. */
    public static final String SETTINGS_KEY_ENV = "LIFEBOAT_PUSH_KEY";

    /** What a pusher serving {@code repo} with these replication settings answers for (repository id and more). */
    public static String identity(Repository repo, Path replicationConfig) throws IOException {
        return PushRequests.identity(repo, replicationConfig);
    }

    /**
     * Tells the running pusher of {@code spool} that the launcher's {@code settingsKey} means the repository
     * {@code identity} names; refused (IOException) unless that is the pusher's own.
     */
    public static void bindPusher(Path spool, String settingsKey, String identity) throws IOException {
        PushRequests.bind(spool, settingsKey, identity);
    }

    /** This spool as used for archiving into the repository {@code identity} names. */
    public WalSpool forRepository(String identity) {
        this.identity = identity;
        return this;
    }

    public Path okMarker(String name) {
        return spool.resolve("out").resolve(name + ".ok");
    }

    public Path errorMarker(String name) {
        return spool.resolve("out").resolve(name + ".error");
    }

    /**
     * The identity of one version of a file: {@code device:inode:size:mtime} with the mtime as seconds and nine
     * digits of nanoseconds, exactly as the launcher prints it with {@code stat -c '%d:%i:%s:%.9Y'}.
     */
    public static String fingerprint(Path file) throws IOException {
        Map<String, Object> a =
                Files.readAttributes(file, "unix:dev,ino,size,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
        Instant m = ((FileTime) a.get("lastModifiedTime")).toInstant();
        return a.get("dev") + ":" + a.get("ino") + ":" + a.get("size") + ":" + m.getEpochSecond() + "."
                + String.format("%09d", m.getNano());
    }

    /** True if {@code out/<name>.ok} exists and was written for the file now at {@code file}. */
    boolean markerMatches(String name, Path file) throws IOException {
        String marked;
        try {
            marked = Files.readString(okMarker(name), StandardCharsets.UTF_8).strip();
        } catch (NoSuchFileException e) {
            return false;
        }
        try {
            return marked.equals(fingerprint(file) + " " + identity);
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    /**
     * Waits until the pusher reports {@code walFile} durable (returns) or failed (exception), starting it when needed.
     * A marker written for another file of that name is not taken: the pusher archives the file again.
     */
    public void awaitPushed(Path walFile, Path pgdata, List<String> repoArgs, int processMax, Duration timeout)
            throws IOException, InterruptedException {
        String name = walFile.getFileName().toString();
        Path walDir = walFile.toAbsolutePath().getParent();
        long deadline = System.nanoTime() + timeout.toNanos();
        long nextStartCheck = 0;
        while (System.nanoTime() < deadline) {
            if (markerMatches(name, walFile) && Files.deleteIfExists(okMarker(name))) {
                return;
            }
            Path err = errorMarker(name);
            if (Files.exists(err)) {
                String why = Files.readString(err).strip();
                Files.deleteIfExists(err);
                throw new IOException("archiving " + name + " failed: " + why);
            }
            if (System.nanoTime() >= nextStartCheck) {
                ensureRunning("push", walDir, pgdata, repoArgs, processMax, true);
                nextStartCheck = System.nanoTime() + 1_000_000_000L;
            }
            Thread.sleep(5);
        }
        throw new IOException(
                "archiving " + name + " did not finish within " + timeout + "; see " + spool.resolve("push.log"));
    }

    /**
     * Makes sure a pusher serves the next archive_command calls of this cluster through the launcher, instead of a JVM
     * each: starts one unless one runs (it takes the settings key from this process's environment,
     * {@code LIFEBOAT_PUSH_KEY}, which the launcher sets), or tells the running one that {@code settingsKey} means
     * {@code repo} with these replication settings, which it accepts only if they are its own. With
     * {@code readAhead} off a pusher started here archives only what it is asked for. Returns whether it started one.
     */
    public boolean startOrBindPusher(
            Path walFile,
            Path pgdata,
            List<String> repoArgs,
            int processMax,
            boolean readAhead,
            String settingsKey,
            Repository repo,
            Path replicationConfig)
            throws IOException {
        if (!isLocked("push")) {
            return ensureRunning("push", walFile.toAbsolutePath().getParent(), pgdata, repoArgs, processMax, readAhead);
        } else if (settingsKey != null && Files.exists(spool.resolve(PushRequests.PORT_FILE))) {
            PushRequests.bind(spool, settingsKey, PushRequests.identity(repo, replicationConfig));
        }
        return false;
    }

    /**
     * Waits, at most {@code max}, until the pusher this process started answers on its port, so that the next
     * archive_command call takes the launcher's fast path instead of starting a JVM of its own (PostgreSQL calls it
     * again at once while segments are waiting). Returns early if that pusher ends.
     */
    public void awaitPusherServing(Duration max) throws InterruptedException {
        Process p = started.get("push");
        Path port = spool.resolve(PushRequests.PORT_FILE);
        long deadline = System.nanoTime() + max.toNanos();
        while (p != null && p.isAlive() && System.nanoTime() < deadline) {
            try {
                if (Files.getLastModifiedTime(port).toInstant().isAfter(startedAt)) {
                    return;
                }
            } catch (IOException e) {
                // not written yet
            }
            Thread.sleep(10);
        }
    }

    /** Starts the background process for {@code role} unless one already holds the spool's lock; true if it did. */
    private boolean ensureRunning(
            String role, Path walDir, Path pgdata, List<String> repoArgs, int processMax, boolean readAhead)
            throws IOException {
        Process earlier = started.get(role);
        if ((earlier != null && earlier.isAlive()) || isLocked(role)) {
            return false;
        }
        List<String> cmd = new ArrayList<>(SelfCommand.command());
        cmd.add("wal-spool-worker");
        cmd.add("--role=" + role);
        cmd.add("--spool-dir=" + spool);
        cmd.add("--pg-wal=" + walDir.toAbsolutePath());
        if (pgdata != null) {
            cmd.add("--pgdata=" + pgdata.toAbsolutePath());
        }
        cmd.add("--process-max=" + processMax);
        if (!readAhead) {
            cmd.add("--read-ahead=false");
        }
        cmd.addAll(repoArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(
                        spool.resolve(role + ".log").toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        if (role.equals("push")) {
            // the launcher sizes the pusher's heap from this: a collector fills whatever heap it may, and that heap
            // is the pusher's resident memory
            pb.environment().put(WORKER_HEAP_ENV, Long.toString(pusherHeapMib(walDir, processMax)));
            // the zstd and crypto libraries allocate from native threads: few malloc arenas keep freed memory reusable
            pb.environment().putIfAbsent("MALLOC_ARENA_MAX", "2");
        }
        startedAt = Instant.now();
        started.put(role, pb.start());
        return true;
    }

    /** The environment variable through which the launcher takes the pusher's heap size in MiB. */
    static final String WORKER_HEAP_ENV = "LIFEBOAT_WORKER_HEAP_MIB";

    /**
     * The heap a pusher of {@code processMax} concurrent pushes needs: 64 MiB for itself, and per push five segments.
     * A first push holds three (the segment, its compressed form allocated at zstd's bound, the sealed object); one
     * that finds the segment archived already (PostgreSQL retries after a crash) also reads the archived object back
     * and opens it, which for WAL that hardly compresses is two more. With three, such re-archiving of random data
     * spent its time in full collections instead of failing or finishing.
     */
    static long pusherHeapMib(Path walDir, int processMax) {
        long segment = 16L << 20;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(walDir)) {
            for (Path p : ds) {
                if (WalArchive.isSegment(p.getFileName().toString())) {
                    segment = Math.max(segment, Files.size(p));
                    break;
                }
            }
        } catch (IOException e) {
            // the default segment size
        }
        return 64 + Math.max(1, processMax) * 5 * (segment >> 20);
    }

    /**
     * Whether a worker of {@code role} (push or get) holds this spool's lock; a new worker checks it before it opens
     * the repository, so one started while another runs ends at once.
     */
    public boolean isLocked(String role) throws IOException {
        try (FileChannel ch =
                FileChannel.open(spool.resolve(role + ".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock l = ch.tryLock();
            if (l == null) {
                return true;
            }
            l.release();
            return false;
        } catch (OverlappingFileLockException e) {
            return true;
        }
    }

    /**
     * The pusher: archives every segment PostgreSQL marked ready in {@code walDir} (of the cluster in {@code pgdata}),
     * {@code processMax} at a time, until nothing has been ready for {@code idle}. A ready segment is skipped only
     * while its marker (or this pusher's memory of what it archived) matches the file's fingerprint, or while its
     * error marker waits to be collected. Returns without work if another pusher holds the lock.
     * <p>
     * It also answers archive_command's requests on a loopback port ({@link PushRequests}): "is this file durable
     * yet?", archiving it at once if not. With {@code readAhead} off it archives only what is asked for (synchronous
     * archiving without a JVM per segment); requests keep it alive as ready segments do.
     */
    public void runPusher(Repository repo, Path walDir, Path pgdata, int processMax, Duration idle)
            throws IOException, InterruptedException {
        runPusher(repo, walDir, pgdata, processMax, idle, new Serving(null, null, true, true));
    }

    /**
     * How a pusher answers archive_command's requests.
     *
     * @param replicationConfig the replication settings it writes with (part of what a request must mean)
     * @param settingsKey       the launcher's settings key of the wal-push that started it (served from the start), or
     *                          null: served once a JVM run of wal-push binds it ({@link #bindPusher})
     * @param readAhead         also archive ready segments before they are asked for
     * @param stopWhenReplaced  stop when a wal-push binds its settings to another repository (a pusher started on
     *                          demand; the agent's keeps serving its own database)
     */
    public record Serving(Path replicationConfig, String settingsKey, boolean readAhead, boolean stopWhenReplaced) {}

    public void runPusher(Repository repo, Path walDir, Path pgdata, int processMax, Duration idle, Serving serving)
            throws IOException, InterruptedException {
        boolean readAhead = serving.readAhead();
        forRepository(PushRequests.identity(repo, serving.replicationConfig()));
        try (FileChannel ch = FileChannel.open(
                        spool.resolve("push.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock lock = ch.tryLock()) {
            if (lock == null) {
                return;
            }
            WalArchive archive = new WalArchive(repo);
            Semaphore slots = new Semaphore(Math.max(1, processMax));
            Map<String, CompletableFuture<String>> inFlight = new ConcurrentHashMap<>();
            Map<String, String> archived = new ConcurrentHashMap<>(); // name -> fingerprint
            AtomicLong lastWork = new AtomicLong(System.nanoTime());
            AtomicBoolean replaced = new AtomicBoolean();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
                    PushRequests requests = PushRequests.open(
                            spool,
                            identity,
                            serving.settingsKey(),
                            walDir,
                            (name, fingerprint) -> requested(
                                    name,
                                    fingerprint,
                                    walDir.resolve(name),
                                    archived,
                                    () -> submit(pool, slots, inFlight, archived, archive, walDir, name, pgdata)),
                            () -> lastWork.set(System.nanoTime()),
                            () -> replaced.set(serving.stopWhenReplaced()))) {
                while (System.nanoTime() - lastWork.get() < idle.toNanos() && !replaced.get()) {
                    boolean any = false;
                    if (readAhead) {
                        List<String> ready = readySegments(walDir);
                        archived.keySet().retainAll(new HashSet<>(ready));
                        for (String name : ready) {
                            if (inFlight.containsKey(name) || alreadyDone(name, walDir.resolve(name), archived)) {
                                continue;
                            }
                            any = true;
                            slots.acquire();
                            CompletableFuture<String> f = new CompletableFuture<>();
                            if (inFlight.putIfAbsent(name, f) != null) {
                                slots.release(); // a request took it meanwhile
                                continue;
                            }
                            pool.submit(() -> pushTask(archive, walDir, name, pgdata, f, inFlight, archived, slots));
                        }
                    }
                    if (any) {
                        lastWork.set(System.nanoTime());
                    }
                    if (!readAhead && archived.size() > 1024) {
                        archived.clear(); // only a repeated request reads it, for the file it just archived
                    }
                    cleanStaleMarkers(walDir);
                    heartbeat();
                    Thread.sleep(any ? 2 : 20);
                }
            }
        }
    }

    /**
     * A request's answer: the fingerprint of what is durable for {@code name}, archiving it now unless this pusher
     * (or its marker) already did for the file as it is.
     */
    private String requested(
            String name,
            String wanted,
            Path file,
            Map<String, String> archived,
            Callable<CompletableFuture<String>> start)
            throws Exception {
        String now = fingerprint(file);
        if (!now.equals(wanted)) {
            throw new IOException(file + " is not the file archive_command named (" + now + ", not " + wanted + ")");
        }
        if (now.equals(archived.get(name)) || markerMatches(name, file)) {
            Files.deleteIfExists(okMarker(name));
            return now;
        }
        Files.deleteIfExists(errorMarker(name)); // the request is PostgreSQL's retry: try again now
        String done = start.call().get();
        Files.deleteIfExists(okMarker(name)); // answered here; the marker loop of the launcher does not need it
        return done;
    }

    /** The archiving of {@code name} now under way, started here unless it already was. */
    private CompletableFuture<String> submit(
            ExecutorService pool,
            Semaphore slots,
            Map<String, CompletableFuture<String>> inFlight,
            Map<String, String> archived,
            WalArchive archive,
            Path walDir,
            String name,
            Path pgdata) {
        CompletableFuture<String> f = new CompletableFuture<>();
        CompletableFuture<String> running = inFlight.putIfAbsent(name, f);
        if (running != null) {
            return running; // the read-ahead (or another request) is archiving it: wait for that
        }
        pool.submit(() -> {
            try {
                slots.acquire();
            } catch (InterruptedException e) {
                f.completeExceptionally(e);
                inFlight.remove(name, f);
                return;
            }
            pushTask(archive, walDir, name, pgdata, f, inFlight, archived, slots);
        });
        return f;
    }

    /** Archives one file holding a slot, and completes {@code f} with the fingerprint archived or the failure. */
    private void pushTask(
            WalArchive archive,
            Path walDir,
            String name,
            Path pgdata,
            CompletableFuture<String> f,
            Map<String, CompletableFuture<String>> inFlight,
            Map<String, String> archived,
            Semaphore slots) {
        try {
            String fp = pushOne(archive, walDir.resolve(name), pgdata);
            archived.put(name, fp);
            f.complete(fp);
        } catch (Exception e) {
            log.warn("archiving {} failed: {}", name, e.getMessage());
            try {
                Files.deleteIfExists(okMarker(name)); // written for another version of the file
                writeMarker(errorMarker(name), String.valueOf(e.getMessage()));
            } catch (IOException ignored) {
                // the waiting wal-push times out instead
            }
            f.completeExceptionally(e);
        } finally {
            inFlight.remove(name, f);
            slots.release();
        }
    }

    /**
     * Whether to leave a ready file alone: it is archived (this pusher's memory or its marker matches the file), or its
     * last attempt failed and the waiting wal-push has not collected the error yet (it deletes the error marker, and
     * PostgreSQL's next attempt brings the retry; retrying at once would spin on a file that is refused).
     */
    private boolean alreadyDone(String name, Path file, Map<String, String> archived) throws IOException {
        if (Files.exists(errorMarker(name))) {
            return true;
        }
        String mine = archived.get(name);
        if (mine != null) {
            try {
                if (mine.equals(fingerprint(file))) {
                    return true;
                }
            } catch (NoSuchFileException e) {
                return true; // PostgreSQL archived and removed it meanwhile
            }
        }
        return markerMatches(name, file);
    }

    /**
     * Archives one file and leaves its marker; returns the fingerprint archived. The file is read between two
     * fingerprints, and read again if they differ, so the marker always describes the bytes that were archived.
     */
    private String pushOne(WalArchive archive, Path file, Path pgdata) throws IOException {
        String name = file.getFileName().toString();
        for (int attempt = 1; ; attempt++) {
            String before = fingerprint(file);
            byte[] content = SlicedIo.readAll(file);
            String after = fingerprint(file);
            if (!before.equals(after)) {
                if (attempt >= 5) {
                    throw new IOException(
                            file + " kept changing while it was read; is something other than PostgreSQL writing it?");
                }
                continue;
            }
            archive.push(name, content, WalSources.of(pgdata, "the async pusher"));
            Files.deleteIfExists(errorMarker(name));
            writeMarker(okMarker(name), after + " " + identity);
            return after;
        }
    }

    private long lastBeat;

    /** Tells the launcher's fast path that a pusher is alive, so it waits for markers instead of starting a JVM. */
    private void heartbeat() throws IOException {
        long now = System.currentTimeMillis();
        if (now - lastBeat > 500) {
            Path p = spool.resolve("push.alive");
            if (!Files.exists(p)) {
                Files.writeString(p, "");
            }
            Files.setLastModifiedTime(p, FileTime.fromMillis(now));
            lastBeat = now;
        }
    }

    /** Segments PostgreSQL has finished and wants archived, oldest first. */
    static List<String> readySegments(Path walDir) throws IOException {
        List<String> out = new ArrayList<>();
        Path status = walDir.resolve("archive_status");
        if (!Files.isDirectory(status)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(status, "*.ready")) {
            for (Path p : ds) {
                String f = p.getFileName().toString();
                String name = f.substring(0, f.length() - ".ready".length());
                if (WalArchive.isWalFileName(name)) {
                    out.add(name);
                }
            }
        }
        // history files first (a new timeline's segments need them), then by name
        out.sort((a, b) ->
                a.endsWith(".history") == b.endsWith(".history") ? a.compareTo(b) : a.endsWith(".history") ? -1 : 1);
        return out;
    }

    /** Markers left over for 10 minutes (PostgreSQL archived their files without asking for them) are dropped. */
    private void cleanStaleMarkers(Path walDir) throws IOException {
        long cutoff = System.currentTimeMillis() - 600_000;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(spool.resolve("out"), "*.ok")) {
            for (Path p : ds) {
                try {
                    if (Files.getLastModifiedTime(p).toMillis() < cutoff) {
                        Files.deleteIfExists(p);
                    }
                } catch (NoSuchFileException gone) {
                    // consumed meanwhile
                }
            }
        }
    }

    private static void writeMarker(Path p, String content) throws IOException {
        Path tmp = p.resolveSibling("." + p.getFileName() + ".tmp");
        Files.writeString(tmp, content, StandardCharsets.UTF_8);
        Files.move(tmp, p, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    // ---- fetching ----------------------------------------------------------------------------------------------

    /** Hands over a prefetched file if there is one. */
    public boolean takePrefetched(String name, Path dest) throws IOException {
        Path p = spool.resolve("in").resolve(name);
        if (!Files.exists(p)) {
            return false;
        }
        Files.move(p, dest, StandardCopyOption.REPLACE_EXISTING);
        return true;
    }

    public void startPrefetch(String after, List<String> repoArgs, int count) throws IOException {
        if (!WalArchive.isSegment(after)) {
            return;
        }
        writeMarker(spool.resolve("in").resolve("next"), after + " " + count);
        ensureRunning("get", spool, null, repoArgs, count, true);
    }

    /**
     * The fetcher: keeps the next segments after the last requested one downloaded in {@code in/}. While it works it
     * renews the restore's replay lease (if any) every half minute: segments it hands over reach PostgreSQL through
     * the launcher without a JVM, so wal-get itself does not renew it then.
     */
    public void runFetcher(Repository repo, int count, Duration idle, String lease, String last)
            throws IOException, InterruptedException {
        try (FileChannel ch = FileChannel.open(
                        spool.resolve("get.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                FileLock lock = ch.tryLock()) {
            if (lock == null) {
                return;
            }
            WalArchive archive = new WalArchive(repo);
            long lastWork = System.nanoTime();
            long lastRenewal = System.nanoTime();
            String lastSeen = null;
            while (System.nanoTime() - lastWork < idle.toNanos()) {
                Path next = spool.resolve("in").resolve("next");
                String cur = Files.exists(next) ? Files.readString(next).strip().split(" ")[0] : null;
                if (cur != null && !cur.equals(lastSeen)) {
                    lastSeen = cur;
                    lastWork = System.nanoTime();
                    for (String name : following(cur, count)) {
                        if (last != null && after(name, last)) {
                            break;
                        }
                        Path target = spool.resolve("in").resolve(name);
                        if (Files.exists(target)) {
                            continue;
                        }
                        Optional<byte[]> data = archive.read(name);
                        if (data.isEmpty()) {
                            break;
                        }
                        Path tmp = target.resolveSibling("." + name + ".tmp");
                        Files.write(tmp, data.get());
                        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    }
                    dropOlderThan(cur);
                    if (lease != null && System.nanoTime() - lastRenewal > 30_000_000_000L) {
                        lastRenewal = System.nanoTime();
                        try {
                            ReplayLease.renew(repo.store(), lease);
                        } catch (IOException | RuntimeException e) {
                            log.warn("could not renew replay lease {}: {}", lease, e.getMessage());
                        }
                    }
                }
                Thread.sleep(20);
            }
        }
    }

    private void dropOlderThan(String cur) throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(spool.resolve("in"))) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (WalArchive.isSegment(n) && n.compareTo(cur) < 0) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** Whether segment {@code name} comes after segment {@code last} in the WAL (timelines aside). */
    public static boolean after(String name, String last) {
        return WalArchive.isSegment(name) && name.substring(8).compareTo(last.substring(8)) > 0;
    }

    /** The names of the next {@code count} segments on the same timeline (16 MiB segments). */
    static List<String> following(String segment, int count) {
        int tli = Integer.parseInt(segment.substring(0, 8), 16);
        long segSize = 16L << 20;
        long perId = 0x1_0000_0000L / segSize;
        long no = Long.parseLong(segment.substring(8, 16), 16) * perId + Long.parseLong(segment.substring(16, 24), 16);
        List<String> out = new ArrayList<>();
        for (int i = 1; i <= count; i++) {
            out.add(Lsn.segmentName(tli, no + i, segSize));
        }
        return out;
    }
}
