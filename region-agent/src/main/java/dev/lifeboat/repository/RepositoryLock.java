package dev.lifeboat.repository;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.util.Hosts;
import dev.lifeboat.util.Json;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Advisory repository locks built on the store's conditional create. One exclusive lock ({@code locks/exclusive})
 * serialises writers (backup, gc); readers (restore, verify) hold shared locks ({@code locks/shared-<uuid>}) that
 * keep gc from deleting what they read. A lock left by a process that died on this host is detected (its pid is
 * gone or belongs to a newer process) and broken; a lock from another host is only broken by {@code lifeboat unlock}.
 */
public final class RepositoryLock implements AutoCloseable {
    public static final String EXCLUSIVE = Repository.LOCKS + "exclusive";
    private static final String SHARED_PREFIX = Repository.LOCKS + "shared-";

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Holder(String operation, String detail, String host, long pid, Instant processStart, Instant acquired) {
        public String describe() {
            return operation + (detail == null ? "" : " " + detail) + " (pid " + pid + " on host " + host + ") since " + acquired;
        }
    }

    private final Repository repo;
    private final String key;
    private boolean released;

    private RepositoryLock(Repository repo, String key) {
        this.repo = repo;
        this.key = key;
    }

    static Holder me(String operation, String detail) {
        ProcessHandle self = ProcessHandle.current();
        return new Holder(operation, detail, Hosts.name(), self.pid(),
                self.info().startInstant().orElse(null), Instant.now());
    }

    /** Takes the exclusive lock or fails naming who holds it. Writers that delete data also require no live readers. */
    public static RepositoryLock exclusive(Repository repo, String operation, String detail, boolean requireNoReaders)
            throws IOException {
        byte[] me = Json.MAPPER.writeValueAsBytes(me(operation, detail));
        for (int attempt = 0; attempt < 5; attempt++) {
            if (repo.store().putIfAbsent(EXCLUSIVE, me)) {
                RepositoryLock lock = new RepositoryLock(repo, EXCLUSIVE);
                if (requireNoReaders) {
                    List<Holder> readers = liveShared(repo);
                    if (!readers.isEmpty()) {
                        lock.close();
                        throw new RepositoryException.Locked("repository " + repo.uri() + " is being read by "
                                + readers.getFirst().describe() + "; retry when it has finished");
                    }
                }
                return lock;
            }
            Optional<Holder> holder = read(repo, EXCLUSIVE);
            if (holder.isEmpty()) {
                continue; // released between our attempt and the read
            }
            if (isStale(holder.get())) {
                breakStale(repo, holder.get());
                pause(20L * (attempt + 1));
                continue;
            }
            throw lockedBy(repo, holder.get());
        }
        throw new RepositoryException.Locked("could not lock repository " + repo.uri() + ": the lock keeps changing hands");
    }

    /**
     * Removes a stale exclusive lock. Only one process may do so at a time (it holds {@code locks/breaking}), and it
     * deletes the lock only if it still names the dead holder, so two processes breaking the same stale lock never
     * both end up holding the exclusive lock.
     */
    private static void breakStale(Repository repo, Holder stale) throws IOException {
        String breaking = Repository.LOCKS + "breaking";
        byte[] me = Json.MAPPER.writeValueAsBytes(me("break-stale-lock", null));
        if (!repo.store().putIfAbsent(breaking, me)) {
            Optional<Holder> other = read(repo, breaking);
            if (other.isPresent() && isStale(other.get())) {
                repo.store().delete(breaking);
            }
            return; // someone else is breaking it; the caller retries
        }
        try {
            Optional<Holder> now = read(repo, EXCLUSIVE);
            if (now.isPresent() && now.get().equals(stale)) {
                repo.store().delete(EXCLUSIVE);
            }
        } finally {
            repo.store().delete(breaking);
        }
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Takes a shared (reader) lock; refused while a deleting writer holds the exclusive lock. */
    public static RepositoryLock shared(Repository repo, String operation, String detail) throws IOException {
        String key = SHARED_PREFIX + UUID.randomUUID();
        repo.store().put(key, Json.MAPPER.writeValueAsBytes(me(operation, detail)));
        RepositoryLock lock = new RepositoryLock(repo, key);
        Optional<Holder> excl = read(repo, EXCLUSIVE);
        if (excl.isPresent() && excl.get().operation().equals("gc") && !isStale(excl.get())) {
            lock.close();
            throw lockedBy(repo, excl.get());
        }
        return lock;
    }

    private static RepositoryException.Locked lockedBy(Repository repo, Holder h) {
        return new RepositoryException.Locked("repository " + repo.uri() + " is locked by " + h.describe()
                + "; if that process is gone, run `lifeboat unlock --repo " + repo.uri() + "`");
    }

    static Optional<Holder> read(Repository repo, String key) throws IOException {
        try {
            return Optional.of(Json.MAPPER.readValue(repo.store().get(key), Holder.class));
        } catch (BlobNotFoundException e) {
            return Optional.empty();
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            // an unreadable lock counts as held by an unknown process
            return Optional.of(new Holder("unknown", "unreadable lock " + key, "unknown", -1, null, Instant.EPOCH));
        }
    }

    /** A lock is stale when its process is known to be gone: same host, and the pid is dead or reused. */
    static boolean isStale(Holder h) {
        if (!Hosts.name().equals(h.host()) || h.pid() <= 0) {
            return false;
        }
        Optional<ProcessHandle> p = ProcessHandle.of(h.pid());
        if (p.isEmpty() || !p.get().isAlive()) {
            return true;
        }
        Optional<Instant> start = p.get().info().startInstant();
        return h.processStart() != null && start.isPresent()
                && Duration.between(start.get(), h.processStart()).abs().toMillis() > 1000;
    }

    static List<Holder> liveShared(Repository repo) throws IOException {
        List<Holder> out = new ArrayList<>();
        for (BlobInfo b : repo.store().list(SHARED_PREFIX)) {
            Optional<Holder> h = read(repo, b.key());
            if (h.isEmpty()) {
                continue;
            }
            if (isStale(h.get())) {
                repo.store().delete(b.key());
            } else {
                out.add(h.get());
            }
        }
        return out;
    }

    /** Every lock currently present (for `lifeboat unlock` and status). */
    public static List<Holder> all(Repository repo) throws IOException {
        List<Holder> out = new ArrayList<>();
        for (BlobInfo b : repo.store().list(Repository.LOCKS)) {
            read(repo, b.key()).ifPresent(out::add);
        }
        return out;
    }

    /** Removes all locks (the operator asserts their holders are gone). Returns how many were removed. */
    public static int breakAll(Repository repo) throws IOException {
        int n = 0;
        for (BlobInfo b : repo.store().list(Repository.LOCKS)) {
            repo.store().delete(b.key());
            n++;
        }
        return n;
    }

    @Override
    public void close() throws IOException {
        if (!released) {
            released = true;
            repo.store().delete(key);
        }
    }
}
