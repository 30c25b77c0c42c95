package dev.lifeboat.repository;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.core.JacksonException;
import dev.lifeboat.common.Backoff;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.util.Hosts;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * Advisory repository locks built on the store's conditional create, in three {@link Mode modes} that each command
 * chooses once, at its entry ({@link #acquire}): readers (restore, verify) hold {@link Mode#SHARED shared} locks
 * ({@code locks/shared-<token>}); a writer that only adds (backup) holds the one writer lock ({@code locks/exclusive})
 * in {@link Mode#APPEND append} mode, which readers may share; a writer that deletes or rewrites (expire, gc,
 * rebuild-index) holds it in {@link Mode#EXCLUSIVE exclusive} mode, which needs no live reader and keeps new readers
 * out.
 * <p>
 * Every lock names a random owner token and the holder's host, pid, process start, kernel boot id and PID namespace.
 * {@code locks/exclusive} is created with {@code putIfAbsent} and never overwritten; its holder proves it is alive by
 * renewing a lease object of its own ({@code locks/lease-<token>}) from a daemon thread every TTL/10. Shared locks
 * are renewed in place. A lock is stale only when (a) it was taken on this boot of this kernel in this PID
 * namespace and its process is gone or its pid belongs to another process, or (b) it has not been renewed for longer
 * than its TTL (which assumes the hosts' clocks agree to well within half the TTL). A holder that finds its lock gone
 * or naming another token has lost it: {@link #assertHeld()} then throws, and callers call it before each commit
 * point. Locks written before tokens existed are judged by the old rule (same host name, pid gone or reused).
 */
public final class RepositoryLock implements AutoCloseable {
    /** What a command may do to the repository while it holds the lock. */
    public enum Mode {
        /** reads (restore, verify): any number at once, beside an append writer, never beside an exclusive one */
        SHARED,
        /** adds objects and never deletes what a reader may use (backup): one writer at a time, readers welcome */
        APPEND,
        /** deletes or rewrites (expire, gc, rebuild-index): alone, no live reader */
        EXCLUSIVE
    }

    public static final String EXCLUSIVE = Repository.LOCKS + "exclusive";
    static final String SHARED_PREFIX = Repository.LOCKS + "shared-";
    static final String LEASE_PREFIX = Repository.LOCKS + "lease-";
    static final String BREAKING = Repository.LOCKS + "breaking";
    public static final Duration DEFAULT_TTL = Duration.ofMinutes(5);
    /** Shortens (or lengthens) the lease TTL, e.g. {@code 2s} in tests: system property, then environment variable. */
    public static final String TTL_PROPERTY = "lifeboat.lock.ttl";

    public static final String TTL_ENV = "LIFEBOAT_LOCK_TTL";

    /**
     * A lock record. {@code token} and the fields after it are null in locks written by versions before owner tokens.
     *
     * @param renewed for the exclusive lock: when it was taken (the lease object carries later renewals)
     * @param ttl     how long the holder may go without renewing before others treat the lock as stale
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Holder(
            String operation,
            String detail,
            String host,
            long pid,
            Instant processStart,
            Instant acquired,
            String token,
            String bootId,
            String pidNamespace,
            Long processStartTicks,
            Instant renewed,
            Duration ttl,
            Mode mode) {
        /** When the holder last showed it is alive. */
        public Instant lastRenewed() {
            if (renewed == null) {
                return acquired;
            }
            return acquired == null || renewed.isAfter(acquired) ? renewed : acquired;
        }

        Holder renewedAt(Instant at) {
            return new Holder(
                    operation,
                    detail,
                    host,
                    pid,
                    processStart,
                    acquired,
                    token,
                    bootId,
                    pidNamespace,
                    processStartTicks,
                    at,
                    ttl,
                    mode);
        }

        Holder withMode(Mode m) {
            return new Holder(
                    operation,
                    detail,
                    host,
                    pid,
                    processStart,
                    acquired,
                    token,
                    bootId,
                    pidNamespace,
                    processStartTicks,
                    renewed,
                    ttl,
                    m);
        }

        /**
         * Whether readers must stay away: an exclusive holder, or (locks written before modes) gc and expire, which
         * took the writer lock under the operation name "gc".
         */
        boolean keepsReadersOut() {
            return mode == Mode.EXCLUSIVE || (mode == null && "gc".equals(operation));
        }

        /** {@code backup 2025… (pid 4242 on host db1) since …}: for "locked by" messages. */
        public String describe() {
            return operation + (detail == null ? "" : " " + detail)
                    + (mode == null ? "" : " [" + mode.name().toLowerCase(Locale.ROOT) + "]") + " (pid " + pid
                    + " on host " + host + ") since " + acquired
                    + (token == null ? "" : ", last renewed " + lastRenewed());
        }

        /** Every identifying field, for {@code lifeboat unlock}. */
        public String details() {
            if (token == null) {
                return "written by an older Lifeboat: no owner token or lease";
            }
            return "owner token " + token + ", process start " + processStart + ", boot id " + bootId
                    + ", pid namespace " + pidNamespace + ", lease "
                    + (ttl == null ? "?" : RetentionPolicy.formatDuration(ttl));
        }
    }

    /** A lock as {@link #all} finds it: its key, its holder and why it is stale (null while it may be alive). */
    public record Entry(String key, Holder holder, String staleReason) {}

    /** Who this process is, read once. Fields are null where the platform does not tell (no /proc). */
    record Self(String host, long pid, Instant start, Long startTicks, String bootId, String pidNamespace) {
        static Self detect() {
            ProcessHandle p = ProcessHandle.current();
            String bootId = readProc("/proc/sys/kernel/random/boot_id");
            String ns = null;
            try {
                ns = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
            } catch (IOException | UnsupportedOperationException e) {
                // no PID namespace information: only the lease rule applies to our locks
            }
            return new Self(
                    Hosts.name(),
                    p.pid(),
                    p.info().startInstant().orElse(null),
                    RepositoryLock.startTicks("self"),
                    bootId,
                    ns);
        }
    }

    static final Self SELF = Self.detect();

    private final Repository repo;
    private final String key;
    private final Holder me;
    private final Duration ttl;
    private Thread renewer;
    private boolean released;
    /** why the lock was lost, or null */
    private String lost;

    private long lastRenewedNanos = System.nanoTime();
    private long lastConfirmedNanos = System.nanoTime();
    private IOException lastRenewalError;
    /** whether we wrote {@code locks/lease-<token>} (the first renewal does) */
    private boolean leaseWritten;

    private RepositoryLock(Repository repo, String key, Holder me, Duration ttl) {
        this.repo = repo;
        this.key = key;
        this.me = me;
        this.ttl = ttl;
    }

    /** The lease TTL: {@value #TTL_PROPERTY} or {@value #TTL_ENV} if set, else {@link #DEFAULT_TTL}. */
    public static Duration ttl() {
        String v = System.getProperty(TTL_PROPERTY);
        if (v == null || v.isBlank()) {
            v = System.getenv(TTL_ENV);
        }
        if (v == null || v.isBlank()) {
            return DEFAULT_TTL;
        }
        try {
            Duration d = RetentionPolicy.parseDuration(v);
            if (!d.isZero()) {
                return d;
            }
        } catch (IllegalArgumentException e) {
            // reported below
        }
        throw new IllegalArgumentException(TTL_ENV + " (or -D" + TTL_PROPERTY + ") is '" + v
                + "', not a positive duration; write e.g. 5m or 30s, or unset it for the default of 5m");
    }

    static Holder me(String operation, String detail, Duration ttl) {
        Instant now = Instant.now();
        return new Holder(
                operation,
                detail,
                SELF.host(),
                SELF.pid(),
                SELF.start(),
                now,
                UUID.randomUUID().toString(),
                SELF.bootId(),
                SELF.pidNamespace(),
                SELF.startTicks(),
                now,
                ttl,
                null);
    }

    /**
     * Takes the repository lock a command needs, in the given mode, or fails naming who holds what it conflicts with.
     * Every command calls this once, at its entry, and holds the lock to its end; nothing deeper down takes another.
     *
     * @param operation the command, as other processes' "locked by" messages name it (backup, restore, gc, …)
     * @param detail    what it works on (a backup id, a data directory), or null
     */
    public static RepositoryLock acquire(Repository repo, Mode mode, String operation, String detail)
            throws IOException {
        if (repo.store().readOnly()) {
            return unlockedReader(repo, mode, operation, detail);
        }
        return switch (mode) {
            case SHARED -> shared(repo, operation, detail);
            case APPEND -> writer(repo, Mode.APPEND, operation, detail);
            case EXCLUSIVE -> writer(repo, Mode.EXCLUSIVE, operation, detail);
        };
    }

    /** Takes the writer lock or fails naming who holds it; in exclusive mode also requires no live readers. */
    private static RepositoryLock writer(Repository repo, Mode mode, String operation, String detail)
            throws IOException {
        boolean requireNoReaders = mode == Mode.EXCLUSIVE;
        Duration ttl = ttl();
        Holder me = me(operation, detail, ttl).withMode(mode);
        byte[] bytes = Json.MAPPER.writeValueAsBytes(me);
        BlobStore store = repo.store();
        Backoff.Attempts tries = HANDOVER.start();
        do {
            if (store.putIfAbsent(EXCLUSIVE, bytes)) {
                RepositoryLock lock = new RepositoryLock(repo, EXCLUSIVE, me, ttl);
                try {
                    removeOrphanLeases(store, me.token());
                    removeStaleBreaker(store, ttl);
                    if (requireNoReaders) {
                        List<Holder> readers = liveShared(repo);
                        if (!readers.isEmpty()) {
                            throw new RepositoryException.Locked("repository " + repo.uri() + " is being read by "
                                    + readers.getFirst().describe() + "; retry when it has finished");
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    lock.close();
                    throw e;
                }
                lock.startRenewer();
                return lock;
            }
            Optional<Holder> holder = readExclusive(store);
            if (holder.isEmpty()) {
                continue; // released between our attempt and the read
            }
            if (staleReason(holder.get(), Instant.now(), ttl) != null) {
                breakStale(store, holder.get(), ttl);
                continue;
            }
            throw lockedBy(repo, holder.get(), ttl);
        } while (pauseQuietly(tries));
        throw new RepositoryException.Locked(
                "could not lock repository " + repo.uri() + ": the lock keeps changing hands");
    }

    /**
     * Lease objects of earlier holders that lost or crashed. Only the holder of {@code locks/exclusive} renews a lease,
     * so once we hold it every other lease object is dead (a holder that lost stops renewing at its next check).
     */
    private static void removeOrphanLeases(BlobStore store, String ours) throws IOException {
        for (BlobInfo b : store.list(LEASE_PREFIX)) {
            if (!b.key().equals(LEASE_PREFIX + ours)) {
                store.delete(b.key());
            }
        }
    }

    /**
     * A {@code locks/breaking} left by a process that died while breaking a stale lock: nobody needs it once we hold
     * the exclusive lock, and left alone it would linger until the next stale lock has to be broken.
     */
    private static void removeStaleBreaker(BlobStore store, Duration ttl) throws IOException {
        Optional<Holder> breaker = read(store, BREAKING);
        if (breaker.isPresent() && staleReason(breaker.get(), Instant.now(), ttl) != null) {
            store.delete(BREAKING);
        }
    }

    /**
     * Removes a stale exclusive lock. Only one process may do so at a time (it holds {@code locks/breaking}), and it
     * deletes the lock only if it still names the same holder and is still stale (the holder may have renewed since
     * we looked), so two processes breaking the same stale lock never both end up holding the exclusive lock.
     */
    private static void breakStale(BlobStore store, Holder stale, Duration ttl) throws IOException {
        Holder me = me("break-stale-lock", null, ttl);
        if (!store.putIfAbsent(BREAKING, Json.MAPPER.writeValueAsBytes(me))) {
            Optional<Holder> other = read(store, BREAKING);
            if (other.isPresent() && staleReason(other.get(), Instant.now(), ttl) != null) {
                Optional<Holder> again = read(store, BREAKING);
                if (again.isPresent() && sameLock(again.get(), other.get())) {
                    store.delete(BREAKING);
                }
            }
            return; // someone else is breaking it; the caller retries
        }
        try {
            Optional<Holder> now = readExclusive(store);
            if (now.isPresent() && sameLock(now.get(), stale) && staleReason(now.get(), Instant.now(), ttl) != null) {
                store.delete(EXCLUSIVE);
                if (stale.token() != null) {
                    store.delete(LEASE_PREFIX + stale.token());
                }
            }
        } finally {
            store.delete(BREAKING);
        }
    }

    private static boolean sameLock(Holder a, Holder b) {
        if (a.token() != null || b.token() != null) {
            return a.token() != null && a.token().equals(b.token());
        }
        return a.equals(b);
    }

    /** Tries after a lock changed hands under us: a few, shortly after one another. */
    private static final Backoff HANDOVER =
            Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(200)).withMaxAttempts(5);

    private static boolean pauseQuietly(Backoff.Attempts tries) {
        try {
            return tries.pause(Backoff.NEVER);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * A reader of a read-only store (a replication region) takes no lock there: nothing it could keep out (the
     * replicator, the region's only writer, does not look at locks) and nothing its credentials may write. A writer
     * is refused: the region must stay the replicator's copy of the primary.
     */
    private static RepositoryLock unlockedReader(Repository repo, Mode mode, String operation, String detail)
            throws IOException {
        if (mode != Mode.SHARED) {
            throw new RepositoryException.Locked(operation + " writes the repository, and " + repo.uri()
                    + " is opened read-only (a replication region): run it on the primary");
        }
        return new RepositoryLock(repo, null, me(operation, detail, ttl()).withMode(mode), ttl());
    }

    /** Takes a shared (reader) lock; refused while a deleting writer holds the writer lock in exclusive mode. */
    private static RepositoryLock shared(Repository repo, String operation, String detail) throws IOException {
        Duration ttl = ttl();
        Holder me = me(operation, detail, ttl).withMode(Mode.SHARED);
        String key = SHARED_PREFIX + me.token();
        repo.store().put(key, Json.MAPPER.writeValueAsBytes(me));
        RepositoryLock lock = new RepositoryLock(repo, key, me, ttl);
        try {
            Optional<Holder> excl = readExclusive(repo.store());
            if (excl.isPresent()
                    && excl.get().keepsReadersOut()
                    && staleReason(excl.get(), Instant.now(), ttl) == null) {
                throw lockedBy(repo, excl.get(), ttl);
            }
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
        lock.startRenewer();
        return lock;
    }

    private static RepositoryException.Locked lockedBy(Repository repo, Holder h, Duration ourTtl) {
        String auto = h.token() == null
                ? ""
                : "; if that process is gone, the lock counts as stale once it has not been renewed for "
                        + RetentionPolicy.formatDuration(ttlOf(h, ourTtl)) + " (at "
                        + h.lastRenewed().plus(ttlOf(h, ourTtl)) + ")";
        return new RepositoryException.Locked("repository " + repo.uri() + " is locked by " + h.describe() + auto
                + "; if you are sure that process is gone, run `lifeboat unlock --repo " + repo.uri() + "`");
    }

    /** A lock object, or an "unknown" holder (never stale) if it cannot be parsed. */
    static Optional<Holder> read(BlobStore store, String key) throws IOException {
        try {
            return Optional.of(Json.MAPPER.readValue(store.get(key), Holder.class));
        } catch (BlobNotFoundException e) {
            return Optional.empty();
        } catch (JacksonException e) {
            // an unreadable lock counts as held by an unknown process
            return Optional.of(new Holder(
                    "unknown",
                    "unreadable lock " + key,
                    "unknown",
                    -1,
                    null,
                    Instant.EPOCH,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null,
                    null));
        }
    }

    /** {@code locks/exclusive} with the renewal time of its holder's lease object folded in. */
    static Optional<Holder> readExclusive(BlobStore store) throws IOException {
        Optional<Holder> h = read(store, EXCLUSIVE);
        if (h.isPresent() && h.get().token() != null) {
            Optional<Holder> lease = read(store, LEASE_PREFIX + h.get().token());
            if (lease.isPresent()
                    && h.get().token().equals(lease.get().token())
                    && lease.get().renewed() != null
                    && lease.get().renewed().isAfter(h.get().lastRenewed())) {
                return Optional.of(h.get().renewedAt(lease.get().renewed()));
            }
        }
        return h;
    }

    private static Duration ttlOf(Holder h, Duration ourTtl) {
        return h.ttl() != null && h.ttl().isPositive() ? h.ttl() : ourTtl;
    }

    /**
     * Why a lock is stale at {@code now}, or null while its holder may be alive. The holder's own TTL counts (it
     * renews at that pace); {@code ourTtl} only for a record that names none.
     */
    static String staleReason(Holder h, Instant now, Duration ourTtl) {
        if (h.token() == null) {
            // an older Lifeboat's lock: only its host name and pid say anything, so only a dead local process breaks it
            return h.pid() > 0 && SELF.host().equals(h.host()) ? processGone(h) : null;
        }
        // a pid means something only on the same boot of the same kernel, in the same PID namespace
        if (h.pid() > 0
                && h.bootId() != null
                && h.bootId().equals(SELF.bootId())
                && h.pidNamespace() != null
                && h.pidNamespace().equals(SELF.pidNamespace())) {
            String gone = processGone(h);
            if (gone != null) {
                return gone;
            }
        }
        Instant last = h.lastRenewed() == null ? Instant.EPOCH : h.lastRenewed();
        Duration ttl = ttlOf(h, ourTtl);
        if (Duration.between(last, now).compareTo(ttl) > 0) {
            return "not renewed since " + last + ", longer than its lease of " + RetentionPolicy.formatDuration(ttl);
        }
        return null;
    }

    /** Whether the holder's process is gone or its pid now belongs to another process; null if it is alive. */
    private static String processGone(Holder h) {
        Optional<ProcessHandle> p = ProcessHandle.of(h.pid());
        if (p.isEmpty() || !p.get().isAlive()) {
            return "its process (pid " + h.pid() + ") is gone";
        }
        if (h.processStartTicks() != null) {
            Long ticks = startTicks(Long.toString(h.pid()));
            if (ticks != null) {
                return ticks.equals(h.processStartTicks())
                        ? null
                        : "pid " + h.pid() + " now belongs to another process (started later)";
            }
        }
        Optional<Instant> start = p.get().info().startInstant();
        // the JDK derives the start from the boot time, which may move by a second: only a larger difference is reuse
        if (h.processStart() != null
                && start.isPresent()
                && Duration.between(start.get(), h.processStart()).abs().toMillis() > 1000) {
            return "pid " + h.pid() + " now belongs to a process started at " + start.get();
        }
        return null;
    }

    /** Field 22 of /proc/PID/stat: the start time in clock ticks since boot, exact where the JDK's Instant is not. */
    static Long startTicks(String pid) {
        String stat = readProc("/proc/" + pid + "/stat");
        if (stat == null) {
            return null;
        }
        try {
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[19]);
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String readProc(String path) {
        try {
            return Files.readString(Path.of(path), StandardCharsets.US_ASCII).strip();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    static List<Holder> liveShared(Repository repo) throws IOException {
        List<Holder> out = new ArrayList<>();
        Duration ttl = ttl();
        for (BlobInfo b : repo.store().list(SHARED_PREFIX)) {
            Optional<Holder> h = read(repo.store(), b.key());
            if (h.isEmpty()) {
                continue;
            }
            if (staleReason(h.get(), Instant.now(), ttl) != null) {
                repo.store().delete(b.key());
            } else {
                out.add(h.get());
            }
        }
        return out;
    }

    /** Every lock currently present, with its stale verdict (for `lifeboat unlock` and status); not replay leases. */
    public static List<Entry> all(Repository repo) throws IOException {
        List<Entry> out = new ArrayList<>();
        Duration ttl = ttl();
        for (BlobInfo b : repo.store().list(Repository.LOCKS)) {
            if (b.key().startsWith(LEASE_PREFIX) || b.key().startsWith(ReplayLease.PREFIX)) {
                continue; // a lease object is part of the exclusive lock; replay leases are not locks
            }
            Optional<Holder> h = b.key().equals(EXCLUSIVE) ? readExclusive(repo.store()) : read(repo.store(), b.key());
            h.ifPresent(holder -> out.add(new Entry(b.key(), holder, staleReason(holder, Instant.now(), ttl))));
        }
        return out;
    }

    /**
     * Removes all locks and lease objects (the operator asserts their holders are gone); replay leases only with
     * {@code includeReplayLeases}. Returns how many locks (and replay leases) were removed.
     */
    public static int breakAll(Repository repo, boolean includeReplayLeases) throws IOException {
        int n = 0;
        for (BlobInfo b : repo.store().list(Repository.LOCKS)) {
            boolean replay = b.key().startsWith(ReplayLease.PREFIX);
            if (replay && !includeReplayLeases) {
                continue;
            }
            repo.store().delete(b.key());
            if (!b.key().startsWith(LEASE_PREFIX)) {
                n++;
            }
        }
        return n;
    }

    public static int breakAll(Repository repo) throws IOException {
        return breakAll(repo, false);
    }

    /** This lock's owner token. */
    public String token() {
        return me.token();
    }

    private void startRenewer() {
        long period = Math.max(TimeUnit.MILLISECONDS.toNanos(10), ttl.toNanos() / 10);
        renewer = Thread.ofPlatform()
                .daemon(true)
                .name("lifeboat-lock-renewer " + key)
                .start(() -> renewLoop(period));
    }

    private void renewLoop(long periodNanos) {
        while (true) {
            synchronized (this) {
                long deadline = System.nanoTime() + periodNanos;
                long left;
                while (!released && lost == null && (left = deadline - System.nanoTime()) > 0) {
                    try {
                        TimeUnit.NANOSECONDS.timedWait(this, left);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (released || lost != null) {
                    return;
                }
            }
            try {
                check(true);
            } catch (IOException e) {
                synchronized (this) {
                    lastRenewalError = e; // retried next period; assertHeld refuses once renewals fall behind
                }
            } catch (RuntimeException e) {
                synchronized (this) {
                    lastRenewalError = new IOException(e);
                }
            }
        }
    }

    /**
     * Checks the lock still names our token, marking it lost otherwise; with {@code renew} also records that we are
     * alive (the lease object for the exclusive lock, the lock itself for a shared one).
     */
    private synchronized void check(boolean renew) throws IOException {
        if (released || lost != null) {
            return;
        }
        BlobStore store = repo.store();
        Optional<Holder> cur = read(store, key);
        if (cur.isEmpty() || !me.token().equals(cur.get().token())) {
            lost = cur.isEmpty()
                    ? key
                            + " was removed (by `lifeboat unlock`, or by a process that found it not renewed for "
                            + "longer than "
                            + RetentionPolicy.formatDuration(ttl) + ")"
                    : key + " now names " + cur.get().describe();
            if (leaseWritten) {
                store.delete(LEASE_PREFIX + me.token());
            }
            return;
        }
        long nanos = System.nanoTime();
        if (renew) {
            if (key.equals(EXCLUSIVE)) {
                store.put(LEASE_PREFIX + me.token(), Json.MAPPER.writeValueAsBytes(me.renewedAt(Instant.now())));
                leaseWritten = true;
            } else {
                store.put(key, Json.MAPPER.writeValueAsBytes(me.renewedAt(Instant.now())));
            }
            lastRenewedNanos = nanos;
            lastRenewalError = null;
        }
        lastConfirmedNanos = nanos;
    }

    /**
     * Fails with {@link RepositoryException.Locked} unless this process still holds the lock. Call it before every
     * commit point (a manifest written, a batch of deletions). It reads the lock from the store at most once a second
     * (cheap to call per object) and renews the lease itself when the renewer thread has fallen behind; it also
     * refuses once no renewal has succeeded for half the TTL, since others may soon count the lock as stale.
     */
    public synchronized void assertHeld() throws IOException {
        if (released) {
            throw new IllegalStateException("the lock " + key + " on " + repo.uri() + " was already released");
        }
        if (key == null) {
            return; // a reader of a read-only store holds no lock that could be lost
        }
        if (lost == null) {
            long now = System.nanoTime();
            long sinceRenewal = now - lastRenewedNanos;
            if (sinceRenewal > ttl.toNanos() / 2) {
                throw new RepositoryException.Locked(
                        "the " + kind() + " on " + repo.uri() + " could not be renewed for "
                                + TimeUnit.NANOSECONDS.toSeconds(sinceRenewal) + " s (lease "
                                + RetentionPolicy.formatDuration(ttl)
                                + (lastRenewalError == null ? "" : "; last error: " + lastRenewalError.getMessage())
                                + "), so other processes may already count it as stale; stopped before the next "
                                + "change: "
                                + "check that the repository is reachable and run the command again");
            }
            if (sinceRenewal > ttl.toNanos() / 10) {
                check(true);
            } else if (now - lastConfirmedNanos > Math.min(TimeUnit.SECONDS.toNanos(1), ttl.toNanos() / 10)) {
                check(false);
            }
        }
        if (lost != null) {
            throw new RepositoryException.Locked(
                    "lost the " + kind() + " on " + repo.uri() + " (taken for " + me.operation()
                            + (me.detail() == null ? "" : " " + me.detail()) + "): " + lost
                            + "; stopped before the next change. "
                            + "See `lifeboat unlock` for the locks now present, and run the command again once they "
                            + "are gone");
        }
    }

    private String kind() {
        return key.equals(EXCLUSIVE) ? "exclusive lock" : "shared lock " + key;
    }

    @Override
    public void close() throws IOException {
        Thread t;
        synchronized (this) {
            if (released) {
                return;
            }
            released = true;
            if (key == null) {
                return; // nothing was written
            }
            t = renewer;
            notifyAll(); // wakes the renewer, which exits; a renewal under way finishes first (it holds the monitor)
        }
        if (t != null) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        BlobStore store = repo.store();
        if (key.equals(EXCLUSIVE)) {
            // a lost lock may be someone else's by now: delete it only while it names our token
            Optional<Holder> cur = read(store, EXCLUSIVE);
            if (cur.isPresent() && me.token().equals(cur.get().token())) {
                store.delete(EXCLUSIVE);
            }
            boolean lease;
            synchronized (this) {
                lease = leaseWritten;
            }
            if (lease) {
                store.delete(LEASE_PREFIX + me.token());
            }
        } else {
            store.delete(key); // our own key: nobody else writes it
        }
    }
}
