package dev.lifeboat.repository;

import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.util.Hosts;
import dev.lifeboat.util.Json;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RepositoryLockTest {
    @TempDir
    Path dir;
    Repository repo;

    @BeforeEach
    void setUp() throws Exception {
        repo = RepoFixture.create(dir.resolve("repo"), false, 1 << 20);
    }

    static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        assertThat(p.waitFor()).isZero();
        long pid = p.pid();
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("pid %d still alive", pid).isFalse();
        return pid;
    }

    void writeLock(String key, RepositoryLock.Holder h) throws Exception {
        repo.store().put(key, Json.MAPPER.writeValueAsBytes(h));
    }

    RepositoryLock.Holder holderAt(String key) throws Exception {
        return Json.MAPPER.readValue(repo.store().get(key), RepositoryLock.Holder.class);
    }

    List<String> locks() throws Exception {
        return RepoFixture.keys(repo.store(), Repository.LOCKS);
    }

    @Test
    void exclusiveLockNamesItsHolderAndRefusesASecondOne() throws Exception {
        RepositoryLock lock = RepositoryLock.exclusive(repo, "backup", "of /pgdata", false);
        assertThat(locks()).containsExactly(RepositoryLock.EXCLUSIVE);
        RepositoryLock.Holder h = holderAt(RepositoryLock.EXCLUSIVE);
        assertThat(h.operation()).isEqualTo("backup");
        assertThat(h.detail()).isEqualTo("of /pgdata");
        assertThat(h.pid()).isEqualTo(ProcessHandle.current().pid());
        assertThat(h.host()).isEqualTo(Hosts.name());
        assertThat(h.acquired()).isBetween(Instant.now().minusSeconds(60), Instant.now());
        byte[] held = repo.store().get(RepositoryLock.EXCLUSIVE);

        // this very JVM is alive on this host: not stale
        assertThatThrownBy(() -> RepositoryLock.exclusive(repo, "gc", null, true))
                .isInstanceOf(RepositoryException.Locked.class)
                .hasMessageContaining("backup of /pgdata")
                .hasMessageContaining("pid " + ProcessHandle.current().pid())
                .hasMessageContaining("lifeboat unlock")
                .hasMessageContaining(repo.uri());
        assertThat(repo.store().get(RepositoryLock.EXCLUSIVE)).as("the holder's lock is untouched").isEqualTo(held);

        lock.close();
        assertThat(locks()).isEmpty();
        try (RepositoryLock again = RepositoryLock.exclusive(repo, "gc", null, true)) {
            assertThat(holderAt(RepositoryLock.EXCLUSIVE).operation()).isEqualTo("gc");
            // closing the old handle twice must not release the new holder's lock
            lock.close();
            assertThat(locks()).containsExactly(RepositoryLock.EXCLUSIVE);
            assertThat(again).isNotNull();
        }
        assertThat(locks()).isEmpty();
    }

    @Test
    void lockOfADeadProcessOnThisHostIsStaleAndTakenOver() throws Exception {
        long dead = deadPid();
        writeLock(RepositoryLock.EXCLUSIVE, new RepositoryLock.Holder("backup", null, Hosts.name(), dead, null,
                Instant.now().minusSeconds(30)));
        try (RepositoryLock lock = RepositoryLock.exclusive(repo, "gc", null, true)) {
            RepositoryLock.Holder h = holderAt(RepositoryLock.EXCLUSIVE);
            assertThat(h.pid()).isEqualTo(ProcessHandle.current().pid());
            assertThat(h.operation()).isEqualTo("gc");
            assertThat(lock).isNotNull();
        }
        assertThat(locks()).isEmpty();
    }

    @Test
    void lockWhosePidWasReusedByANewerProcessIsStale() throws Exception {
        // our own pid, but recorded with a start time a day before this JVM started: the pid was reused
        ProcessHandle self = ProcessHandle.current();
        Instant start = self.info().startInstant().orElseThrow();
        writeLock(RepositoryLock.EXCLUSIVE, new RepositoryLock.Holder("backup", null, Hosts.name(), self.pid(),
                start.minus(Duration.ofDays(1)), start.minus(Duration.ofDays(1))));
        try (RepositoryLock lock = RepositoryLock.exclusive(repo, "backup", null, false)) {
            assertThat(holderAt(RepositoryLock.EXCLUSIVE).processStart()).isEqualTo(start);
            assertThat(lock).isNotNull();
        }
    }

    @Test
    void lockOfThisLiveProcessWithItsStartTimeIsNotStale() throws Exception {
        ProcessHandle self = ProcessHandle.current();
        writeLock(RepositoryLock.EXCLUSIVE, new RepositoryLock.Holder("backup", "elsewhere in this JVM", Hosts.name(),
                self.pid(), self.info().startInstant().orElse(null), Instant.now()));
        assertThatThrownBy(() -> RepositoryLock.exclusive(repo, "backup", null, false))
                .isInstanceOf(RepositoryException.Locked.class).hasMessageContaining("elsewhere in this JVM");
    }

    @Test
    void lockFromAnotherHostIsNeverStale() throws Exception {
        long dead = deadPid();
        writeLock(RepositoryLock.EXCLUSIVE, new RepositoryLock.Holder("backup", null, "some-other-host.example", dead,
                null, Instant.now()));
        assertThatThrownBy(() -> RepositoryLock.exclusive(repo, "gc", null, true))
                .isInstanceOf(RepositoryException.Locked.class)
                .hasMessageContaining("some-other-host.example")
                .hasMessageContaining("lifeboat unlock");
        assertThat(holderAt(RepositoryLock.EXCLUSIVE).host()).isEqualTo("some-other-host.example");
        // the operator breaks it
        assertThat(RepositoryLock.all(repo)).extracting(RepositoryLock.Holder::host).containsExactly("some-other-host.example");
        assertThat(RepositoryLock.breakAll(repo)).isEqualTo(1);
        assertThat(locks()).isEmpty();
        RepositoryLock.exclusive(repo, "gc", null, true).close();
    }

    @Test
    void unreadableLockCountsAsHeld() throws Exception {
        repo.store().put(RepositoryLock.EXCLUSIVE, "not json".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> RepositoryLock.exclusive(repo, "gc", null, true))
                .isInstanceOf(RepositoryException.Locked.class).hasMessageContaining("unreadable lock");
        assertThat(repo.store().get(RepositoryLock.EXCLUSIVE)).isEqualTo("not json".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void sharedLockIsRefusedWhileGcHoldsTheExclusiveLock() throws Exception {
        try (RepositoryLock gc = RepositoryLock.exclusive(repo, "gc", null, true)) {
            assertThatThrownBy(() -> RepositoryLock.shared(repo, "restore", "latest"))
                    .isInstanceOf(RepositoryException.Locked.class).hasMessageContaining("gc")
                    .hasMessageContaining("lifeboat unlock");
            assertThat(locks()).as("the refused reader leaves no lock behind").containsExactly(RepositoryLock.EXCLUSIVE);
            assertThat(gc).isNotNull();
        }
        // a backup (non-deleting writer) does not keep readers out
        try (RepositoryLock backup = RepositoryLock.exclusive(repo, "backup", null, false);
             RepositoryLock reader = RepositoryLock.shared(repo, "restore", null)) {
            assertThat(locks()).hasSize(2).contains(RepositoryLock.EXCLUSIVE)
                    .anyMatch(k -> k.startsWith(Repository.LOCKS + "shared-"));
            assertThat(backup).isNotNull();
            assertThat(reader).isNotNull();
        }
        assertThat(locks()).isEmpty();
    }

    @Test
    void sharedLockIsGrantedWhenAStaleGcLockIsLeft() throws Exception {
        writeLock(RepositoryLock.EXCLUSIVE, new RepositoryLock.Holder("gc", null, Hosts.name(), deadPid(), null, Instant.now()));
        try (RepositoryLock reader = RepositoryLock.shared(repo, "verify", null)) {
            assertThat(reader).isNotNull();
        }
    }

    @Test
    void manySharedLocksCoexist() throws Exception {
        try (RepositoryLock a = RepositoryLock.shared(repo, "restore", null);
             RepositoryLock b = RepositoryLock.shared(repo, "verify", null)) {
            assertThat(locks()).hasSize(2);
            assertThat(RepositoryLock.all(repo)).extracting(RepositoryLock.Holder::operation)
                    .containsExactlyInAnyOrder("restore", "verify");
            assertThat(a).isNotNull();
            assertThat(b).isNotNull();
        }
        assertThat(locks()).isEmpty();
    }

    @Test
    void garbageCollectionRefusesWhileALiveReaderHoldsASharedLock() throws Exception {
        try (RepositoryLock reader = RepositoryLock.shared(repo, "restore", "20250115-100000F-abcd")) {
            assertThatThrownBy(() -> new GarbageCollector(repo).collect(false))
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("being read by restore 20250115-100000F-abcd");
            assertThat(locks()).as("gc released its exclusive lock").hasSize(1)
                    .allMatch(k -> k.startsWith(Repository.LOCKS + "shared-"));
            assertThat(reader).isNotNull();
        }
        GarbageCollector.Result r = new GarbageCollector(repo).collect(false);
        assertThat(r.packsDeleted()).isZero();
        assertThat(locks()).isEmpty();
    }

    @Test
    void staleReaderLocksDoNotBlockGarbageCollectionAndAreRemoved() throws Exception {
        writeLock(Repository.LOCKS + "shared-0000", new RepositoryLock.Holder("restore", null, Hosts.name(), deadPid(),
                null, Instant.now()));
        new GarbageCollector(repo).collect(false);
        assertThat(locks()).isEmpty();
    }

    @Test
    void concurrentExclusiveAttemptsHaveExactlyOneWinner() throws Exception {
        int threads = 8;
        CountDownLatch start = new CountDownLatch(1);
        List<Future<RepositoryLock>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            for (int t = 0; t < threads; t++) {
                String op = "op-" + t;
                Callable<RepositoryLock> c = () -> {
                    start.await();
                    try {
                        return RepositoryLock.exclusive(repo, op, null, false);
                    } catch (RepositoryException.Locked e) {
                        return null;
                    }
                };
                results.add(pool.submit(c));
            }
            start.countDown();
            List<RepositoryLock> winners = new ArrayList<>();
            for (Future<RepositoryLock> f : results) {
                if (f.get() != null) {
                    winners.add(f.get());
                }
            }
            assertThat(winners).hasSize(1);
            assertThat(locks()).containsExactly(RepositoryLock.EXCLUSIVE);
            winners.getFirst().close();
        }
        assertThat(locks()).isEmpty();
    }

    @Test
    void rebuildIndexTakesTheExclusiveLock() throws Exception {
        try (RepositoryLock lock = RepositoryLock.exclusive(repo, "backup", null, false)) {
            assertThatThrownBy(() -> new GarbageCollector(repo).rebuildIndex()).isInstanceOf(RepositoryException.Locked.class);
            assertThatThrownBy(() -> new GarbageCollector(repo).collect(true)).isInstanceOf(RepositoryException.Locked.class);
            assertThat(lock).isNotNull();
        }
        assertThat(repo.store().list(Repository.LOCKS)).extracting(BlobInfo::key).isEmpty();
    }

    /**
     * Breaking a stale lock is "read holder, decide it is stale, delete the key, putIfAbsent". Between the read and
     * the delete another process can break the same stale lock and take the lock itself; the delete then removes
     * that process's live lock and both proceed as exclusive holders. The store below delegates to the real local
     * store and only runs the other process's acquisition at that moment to make the interleaving deterministic.
     */
    @Test
    void twoProcessesBreakingTheSameStaleLockDoNotBothGetIt() throws Exception {
        writeLock(RepositoryLock.EXCLUSIVE, new RepositoryLock.Holder("backup", null, Hosts.name(), deadPid(), null,
                Instant.now()));
        BlobStore plain = repo.store();
        List<RepositoryLock> heldByA = new ArrayList<>();
        InterleavingStore storeB = new InterleavingStore(plain, RepositoryLock.EXCLUSIVE, () -> {
            try {
                heldByA.add(RepositoryLock.exclusive(repo, "gc", "process A", true));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Repository repoB = Repository.open(storeB, null);
        assertThatThrownBy(() -> RepositoryLock.exclusive(repoB, "backup", "process B", false))
                .isInstanceOf(RepositoryException.Locked.class).hasMessageContaining("process A");
        assertThat(heldByA).hasSize(1);
        assertThat(holderAt(RepositoryLock.EXCLUSIVE).detail()).isEqualTo("process A");
    }

    /** A real store whose first read of one key runs another actor right after the read (before returning). */
    static final class InterleavingStore implements BlobStore {
        private final BlobStore delegate;
        private final String key;
        private Runnable onFirstGet;

        InterleavingStore(BlobStore delegate, String key, Runnable onFirstGet) {
            this.delegate = delegate;
            this.key = key;
            this.onFirstGet = onFirstGet;
        }

        @Override
        public byte[] get(String k) throws java.io.IOException {
            byte[] b = delegate.get(k);
            if (k.equals(key) && onFirstGet != null) {
                Runnable r = onFirstGet;
                onFirstGet = null;
                r.run();
            }
            return b;
        }

        @Override
        public void put(String k, byte[] data, int offset, int length) throws java.io.IOException {
            delegate.put(k, data, offset, length);
        }

        @Override
        public boolean putIfAbsent(String k, byte[] data) throws java.io.IOException {
            return delegate.putIfAbsent(k, data);
        }

        @Override
        public byte[] getRange(String k, long offset, int length) throws java.io.IOException {
            return delegate.getRange(k, offset, length);
        }

        @Override
        public java.io.InputStream open(String k) throws java.io.IOException {
            return delegate.open(k);
        }

        @Override
        public java.util.Optional<BlobInfo> stat(String k) throws java.io.IOException {
            return delegate.stat(k);
        }

        @Override
        public List<BlobInfo> list(String prefix) throws java.io.IOException {
            return delegate.list(prefix);
        }

        @Override
        public void delete(String k) throws java.io.IOException {
            delegate.delete(k);
        }

        @Override
        public String uri() {
            return delegate.uri();
        }
    }
}
