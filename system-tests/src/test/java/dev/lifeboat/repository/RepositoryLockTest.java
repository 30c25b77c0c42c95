package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.cli.Main;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.readonly.ReadOnlyBlobStore;
import dev.lifeboat.util.Hosts;
import dev.lifeboat.util.Json;
import dev.lifeboat.util.Processes;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
                .as("pid %d still alive", pid)
                .isFalse();
        return pid;
    }

    @AfterEach
    void resetTtl() {
        System.clearProperty(RepositoryLock.TTL_PROPERTY);
    }

    void writeLock(String key, RepositoryLock.Holder h) throws Exception {
        repo.store().put(key, Json.MAPPER.writeValueAsBytes(h));
    }

    /** A lock record exactly as Lifeboat wrote it before owner tokens: no token, boot id, namespace or lease. */
    void writeLegacy(
            String key, String operation, String detail, String host, long pid, Instant processStart, Instant acquired)
            throws Exception {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("operation", operation);
        m.put("detail", detail);
        m.put("host", host);
        m.put("pid", pid);
        m.put("processStart", processStart == null ? null : processStart.toString());
        m.put("acquired", acquired.toString());
        repo.store().put(key, Json.MAPPER.writeValueAsBytes(m));
    }

    /** A current lock record of a process with this identity, renewed at {@code renewed}. */
    static RepositoryLock.Holder holder(
            String operation,
            String host,
            long pid,
            Long startTicks,
            String bootId,
            String pidNs,
            Instant renewed,
            Duration ttl) {
        return new RepositoryLock.Holder(
                operation,
                null,
                host,
                pid,
                null,
                renewed,
                UUID.randomUUID().toString(),
                bootId,
                pidNs,
                startTicks,
                renewed,
                ttl,
                null);
    }

    static final String OTHER_BOOT = "00000000-1111-2222-3333-444444444444";
    static final String OTHER_PID_NS = "pid:[4026599999]";

    RepositoryLock.Holder holderAt(String key) throws Exception {
        return Json.MAPPER.readValue(repo.store().get(key), RepositoryLock.Holder.class);
    }

    List<String> locks() throws Exception {
        return RepoFixture.keys(repo.store(), Repository.LOCKS);
    }

    @Test
    void aReaderOfAReadOnlyStoreTakesNoLockAndAWriterIsRefused() throws Exception {
        Repository region =
                Repository.open(new ReadOnlyBlobStore(repo.store(), "region dr is read-only for restores"), null);
        try (RepositoryLock lock = RepositoryLock.acquire(region, RepositoryLock.Mode.SHARED, "restore", "/srv/dr")) {
            lock.assertHeld();
            assertThat(locks()).as("nothing written to the region").isEmpty();
        }
        assertThatThrownBy(() -> RepositoryLock.acquire(region, RepositoryLock.Mode.APPEND, "backup", null))
                .hasMessageContaining("backup writes the repository")
                .hasMessageContaining("read-only");
        assertThatThrownBy(() -> region.store().put(Repository.LOCKS + "x", new byte[1]))
                .hasMessageContaining("refused to write")
                .hasMessageContaining("region dr is read-only for restores");
        assertThat(locks()).isEmpty();
    }

    @Test
    void exclusiveLockNamesItsHolderAndRefusesASecondOne() throws Exception {
        RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, "backup", "of /pgdata");
        assertThat(locks()).containsExactly(RepositoryLock.EXCLUSIVE);
        RepositoryLock.Holder h = holderAt(RepositoryLock.EXCLUSIVE);
        assertThat(h.operation()).isEqualTo("backup");
        assertThat(h.detail()).isEqualTo("of /pgdata");
        assertThat(h.pid()).isEqualTo(ProcessHandle.current().pid());
        assertThat(h.host()).isEqualTo(Hosts.name());
        assertThat(h.acquired()).isBetween(Instant.now().minusSeconds(60), Instant.now());
        // what makes the lock unmistakable: a random owner token and where exactly the process runs
        assertThat(h.token()).isEqualTo(lock.token()).matches("[0-9a-f-]{36}");
        assertThat(h.bootId())
                .isEqualTo(Files.readString(Path.of("/proc/sys/kernel/random/boot_id"))
                        .strip());
        assertThat(h.pidNamespace())
                .isEqualTo(Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString());
        assertThat(h.processStartTicks()).isNotNull().isPositive();
        assertThat(h.ttl()).isEqualTo(RepositoryLock.DEFAULT_TTL);
        byte[] held = repo.store().get(RepositoryLock.EXCLUSIVE);

        // this very JVM is alive on this host: not stale
        assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null))
                .isInstanceOf(RepositoryException.Locked.class)
                .hasMessageContaining("backup of /pgdata")
                .hasMessageContaining("pid " + ProcessHandle.current().pid())
                .hasMessageContaining("lifeboat unlock")
                .hasMessageContaining(repo.uri());
        assertThat(repo.store().get(RepositoryLock.EXCLUSIVE))
                .as("the holder's lock is untouched")
                .isEqualTo(held);

        lock.close();
        assertThat(locks()).isEmpty();
        try (RepositoryLock again = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null)) {
            assertThat(holderAt(RepositoryLock.EXCLUSIVE).operation()).isEqualTo("gc");
            // closing the old handle twice must not release the new holder's lock
            lock.close();
            assertThat(locks()).containsExactly(RepositoryLock.EXCLUSIVE);
            assertThat(again).isNotNull();
        }
        assertThat(locks()).isEmpty();
    }

    @Test
    void lockOfADeadProcessOnThisBootAndPidNamespaceIsStaleAtOnce() throws Exception {
        RepositoryLock.Self self = RepositoryLock.SELF;
        // renewed just now, so only the pid rule can make it stale
        writeLock(
                RepositoryLock.EXCLUSIVE,
                holder(
                        "backup",
                        "some-container",
                        deadPid(),
                        null,
                        self.bootId(),
                        self.pidNamespace(),
                        Instant.now(),
                        RepositoryLock.DEFAULT_TTL));
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null)) {
            assertThat(holderAt(RepositoryLock.EXCLUSIVE).token()).isEqualTo(lock.token());
        }
        assertThat(locks()).isEmpty();
    }

    @Test
    void aBreakerThatDiedMidwayLeavesNoLockBehindOnceSomeoneHoldsTheExclusiveLock() throws Exception {
        RepositoryLock.Self self = RepositoryLock.SELF;
        // what a process killed while breaking a stale lock leaves: locks/breaking, its own pid dead
        writeLock(
                RepositoryLock.BREAKING,
                holder(
                        "break-stale-lock",
                        self.host(),
                        deadPid(),
                        null,
                        self.bootId(),
                        self.pidNamespace(),
                        Instant.now(),
                        RepositoryLock.DEFAULT_TTL));
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null)) {
            assertThat(repo.store().stat(RepositoryLock.BREAKING)).isEmpty();
        }
        assertThat(locks()).isEmpty();
    }

    @Test
    void aLiveBreakersLockIsLeftAlone() throws Exception {
        RepositoryLock.Self self = RepositoryLock.SELF;
        writeLock(
                RepositoryLock.BREAKING,
                holder(
                        "break-stale-lock",
                        "other-host",
                        ProcessHandle.current().pid(),
                        null,
                        OTHER_BOOT,
                        self.pidNamespace(),
                        Instant.now(),
                        RepositoryLock.DEFAULT_TTL));
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null)) {
            assertThat(repo.store().stat(RepositoryLock.BREAKING)).isPresent();
        }
    }

    @Test
    void legacyLockOfADeadProcessOnThisHostIsStaleAndTakenOver() throws Exception {
        long dead = deadPid();
        writeLegacy(
                RepositoryLock.EXCLUSIVE,
                "backup",
                null,
                Hosts.name(),
                dead,
                null,
                Instant.now().minusSeconds(30));
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null)) {
            RepositoryLock.Holder h = holderAt(RepositoryLock.EXCLUSIVE);
            assertThat(h.pid()).isEqualTo(ProcessHandle.current().pid());
            assertThat(h.operation()).isEqualTo("gc");
            assertThat(lock).isNotNull();
        }
        assertThat(locks()).isEmpty();
    }

    @Test
    void lockWhosePidNowBelongsToAnotherProcessIsStale() throws Exception {
        // our own pid, boot and namespace, but another start time (in clock ticks since boot): the pid was reused
        RepositoryLock.Self self = RepositoryLock.SELF;
        writeLock(
                RepositoryLock.EXCLUSIVE,
                holder(
                        "backup",
                        self.host(),
                        self.pid(),
                        self.startTicks() - 1,
                        self.bootId(),
                        self.pidNamespace(),
                        Instant.now(),
                        RepositoryLock.DEFAULT_TTL));
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, "backup", null)) {
            assertThat(holderAt(RepositoryLock.EXCLUSIVE).token()).isEqualTo(lock.token());
        }
        // with the right start it is this live process: not stale
        writeLock(
                RepositoryLock.EXCLUSIVE,
                holder(
                        "backup",
                        self.host(),
                        self.pid(),
                        self.startTicks(),
                        self.bootId(),
                        self.pidNamespace(),
                        Instant.now(),
                        RepositoryLock.DEFAULT_TTL));
        assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null))
                .isInstanceOf(RepositoryException.Locked.class);
    }

    @Test
    void legacyLockWhosePidWasReusedByANewerProcessIsStale() throws Exception {
        // our own pid, but recorded with a start time a day before this JVM started: the pid was reused
        ProcessHandle self = ProcessHandle.current();
        Instant start = self.info().startInstant().orElseThrow();
        writeLegacy(
                RepositoryLock.EXCLUSIVE,
                "backup",
                null,
                Hosts.name(),
                self.pid(),
                start.minus(Duration.ofDays(1)),
                start.minus(Duration.ofDays(1)));
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, "backup", null)) {
            assertThat(holderAt(RepositoryLock.EXCLUSIVE).processStart()).isEqualTo(start);
            assertThat(lock).isNotNull();
        }
    }

    @Test
    void legacyLockOfThisLiveProcessWithItsStartTimeIsNotStale() throws Exception {
        ProcessHandle self = ProcessHandle.current();
        writeLegacy(
                RepositoryLock.EXCLUSIVE,
                "backup",
                "elsewhere in this JVM",
                Hosts.name(),
                self.pid(),
                self.info().startInstant().orElse(null),
                Instant.now());
        assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, "backup", null))
                .isInstanceOf(RepositoryException.Locked.class)
                .hasMessageContaining("elsewhere in this JVM");
    }

    @Test
    void legacyLockFromAnotherHostIsOnlyBrokenByUnlock() throws Exception {
        long dead = deadPid();
        // an older Lifeboat never renews, so its age says nothing: even far past the TTL it is not broken automatically
        System.setProperty(RepositoryLock.TTL_PROPERTY, "1s");
        writeLegacy(
                RepositoryLock.EXCLUSIVE,
                "backup",
                null,
                "some-other-host.example",
                dead,
                null,
                Instant.now().minus(Duration.ofDays(2)));
        assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null))
                .isInstanceOf(RepositoryException.Locked.class)
                .hasMessageContaining("some-other-host.example")
                .hasMessageContaining("lifeboat unlock");
        assertThat(holderAt(RepositoryLock.EXCLUSIVE).host()).isEqualTo("some-other-host.example");
        // the operator breaks it
        assertThat(RepositoryLock.all(repo))
                .extracting(e -> e.holder().host())
                .containsExactly("some-other-host.example");
        assertThat(RepositoryLock.breakAll(repo)).isEqualTo(1);
        assertThat(locks()).isEmpty();
        RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null).close();
    }

    @Test
    void unreadableLockCountsAsHeld() throws Exception {
        repo.store().put(RepositoryLock.EXCLUSIVE, "not json".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null))
                .isInstanceOf(RepositoryException.Locked.class)
                .hasMessageContaining("unreadable lock");
        assertThat(repo.store().get(RepositoryLock.EXCLUSIVE)).isEqualTo("not json".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void sharedLockIsRefusedWhileGcHoldsTheExclusiveLock() throws Exception {
        try (RepositoryLock gc = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null)) {
            assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore", "latest"))
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("gc")
                    .hasMessageContaining("lifeboat unlock");
            assertThat(locks())
                    .as("the refused reader leaves no lock behind")
                    .containsExactly(RepositoryLock.EXCLUSIVE);
            assertThat(gc).isNotNull();
        }
        // a backup (non-deleting writer) does not keep readers out
        try (RepositoryLock backup = RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, "backup", null);
                RepositoryLock reader = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore", null)) {
            assertThat(locks())
                    .hasSize(2)
                    .contains(RepositoryLock.EXCLUSIVE)
                    .anyMatch(k -> k.startsWith(Repository.LOCKS + "shared-"));
            assertThat(backup).isNotNull();
            assertThat(reader).isNotNull();
        }
        assertThat(locks()).isEmpty();
    }

    @Test
    void eachModeRecordsItselfAndDecidesWhoMayShare() throws Exception {
        // expire and rebuild-index delete like gc does: their exclusive mode keeps readers out whatever they are called
        for (String deleting : List.of("expire", "rebuild-index")) {
            try (RepositoryLock w = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, deleting, null)) {
                assertThat(holderAt(RepositoryLock.EXCLUSIVE).mode()).isEqualTo(RepositoryLock.Mode.EXCLUSIVE);
                assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore", null))
                        .isInstanceOf(RepositoryException.Locked.class)
                        .hasMessageContaining(deleting + " [exclusive]");
                assertThat(w).isNotNull();
            }
        }
        // an append writer is recorded as such and shares with readers, whose locks say they are shared
        try (RepositoryLock w = RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, "backup", null);
                RepositoryLock r = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "verify", null)) {
            assertThat(RepositoryLock.all(repo))
                    .extracting(e -> e.holder().mode())
                    .containsExactlyInAnyOrder(RepositoryLock.Mode.APPEND, RepositoryLock.Mode.SHARED);
            // a second writer of either kind waits its turn
            for (RepositoryLock.Mode m : List.of(RepositoryLock.Mode.APPEND, RepositoryLock.Mode.EXCLUSIVE)) {
                assertThatThrownBy(() -> RepositoryLock.acquire(repo, m, "gc", null))
                        .isInstanceOf(RepositoryException.Locked.class)
                        .hasMessageContaining("backup [append]");
            }
            assertThat(w).isNotNull();
            assertThat(r).isNotNull();
        }
    }

    @Test
    void aLiveLockWrittenBeforeModesKeepsReadersOutOnlyIfItDeletes() throws Exception {
        // before modes, gc and expire both took the writer lock as operation "gc"; a backup's lock let readers in
        writeLegacy(
                RepositoryLock.EXCLUSIVE,
                "gc",
                "expire",
                Hosts.name(),
                ProcessHandle.current().pid(),
                null,
                Instant.now());
        assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore", null))
                .isInstanceOf(RepositoryException.Locked.class);
        writeLegacy(
                RepositoryLock.EXCLUSIVE,
                "backup",
                null,
                Hosts.name(),
                ProcessHandle.current().pid(),
                null,
                Instant.now());
        try (RepositoryLock reader = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore", null)) {
            assertThat(reader).isNotNull();
        }
    }

    @Test
    void sharedLockIsGrantedWhenAStaleGcLockIsLeft() throws Exception {
        writeLegacy(RepositoryLock.EXCLUSIVE, "gc", null, Hosts.name(), deadPid(), null, Instant.now());
        try (RepositoryLock reader = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "verify", null)) {
            assertThat(reader).isNotNull();
        }
    }

    @Test
    void manySharedLocksCoexist() throws Exception {
        try (RepositoryLock a = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore", null);
                RepositoryLock b = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "verify", null)) {
            assertThat(locks()).hasSize(2);
            assertThat(RepositoryLock.all(repo))
                    .extracting(e -> e.holder().operation())
                    .containsExactlyInAnyOrder("restore", "verify");
            assertThat(a).isNotNull();
            assertThat(b).isNotNull();
        }
        assertThat(locks()).isEmpty();
    }

    @Test
    void garbageCollectionRefusesWhileALiveReaderHoldsASharedLock() throws Exception {
        try (RepositoryLock reader =
                RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore", "20250115-100000F-abcd")) {
            assertThatThrownBy(() -> new GarbageCollector(repo).collect(false))
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("being read by restore 20250115-100000F-abcd");
            assertThat(locks())
                    .as("gc released its exclusive lock")
                    .hasSize(1)
                    .allMatch(k -> k.startsWith(Repository.LOCKS + "shared-"));
            assertThat(reader).isNotNull();
        }
        GarbageCollector.Result r = new GarbageCollector(repo).collect(false);
        assertThat(r.packsDeleted()).isZero();
        assertThat(locks()).isEmpty();
    }

    @Test
    void staleReaderLocksDoNotBlockGarbageCollectionAndAreRemoved() throws Exception {
        writeLegacy(Repository.LOCKS + "shared-0000", "restore", null, Hosts.name(), deadPid(), null, Instant.now());
        RepositoryLock.Self self = RepositoryLock.SELF;
        writeLock(
                Repository.LOCKS + "shared-0001",
                holder(
                        "verify",
                        "elsewhere",
                        4_000_000,
                        null,
                        OTHER_BOOT,
                        OTHER_PID_NS,
                        Instant.now().minus(Duration.ofMinutes(6)),
                        Duration.ofMinutes(5)));
        writeLock(
                Repository.LOCKS + "shared-0002",
                holder(
                        "verify",
                        self.host(),
                        deadPid(),
                        null,
                        self.bootId(),
                        self.pidNamespace(),
                        Instant.now(),
                        Duration.ofMinutes(5)));
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
                        return RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, op, null);
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
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, "backup", null)) {
            assertThatThrownBy(() -> new GarbageCollector(repo).rebuildIndex())
                    .isInstanceOf(RepositoryException.Locked.class);
            assertThatThrownBy(() -> new GarbageCollector(repo).collect(true))
                    .isInstanceOf(RepositoryException.Locked.class);
            assertThat(lock).isNotNull();
        }
        assertThat(repo.store().list(Repository.LOCKS))
                .extracting(BlobInfo::key)
                .isEmpty();
    }

    /**
     * Breaking a stale lock is "read holder, decide it is stale, delete the key, putIfAbsent". Between the read and
     * the delete another process can break the same stale lock and take the lock itself; the delete then removes
     * that process's live lock and both proceed as exclusive holders. The store below delegates to the real local
     * store and only runs the other process's acquisition at that moment to make the interleaving deterministic.
     */
    @Test
    void twoProcessesBreakingTheSameStaleLockDoNotBothGetIt() throws Exception {
        writeLegacy(RepositoryLock.EXCLUSIVE, "backup", null, Hosts.name(), deadPid(), null, Instant.now());
        BlobStore plain = repo.store();
        List<RepositoryLock> heldByA = new ArrayList<>();
        InterleavingStore storeB = new InterleavingStore(plain, RepositoryLock.EXCLUSIVE, () -> {
            try {
                heldByA.add(RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", "process A"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        Repository repoB = Repository.open(storeB, null);
        assertThatThrownBy(() -> RepositoryLock.acquire(repoB, RepositoryLock.Mode.APPEND, "backup", "process B"))
                .isInstanceOf(RepositoryException.Locked.class)
                .hasMessageContaining("process A");
        assertThat(heldByA).hasSize(1);
        assertThat(holderAt(RepositoryLock.EXCLUSIVE).detail()).isEqualTo("process A");
        heldByA.getFirst().close();
    }

    /**
     * A process in another PID namespace (another container) on the same host: its pid says nothing here. Pid 1 is
     * alive here (our init, started at boot), pid {@code dead} is not; both records carry our host name. The lock
     * was renewed just now, so it must hold.
     */
    @Test
    void aPidFromAnotherPidNamespaceOrBootIsNeverJudgedByPid() throws Exception {
        RepositoryLock.Self self = RepositoryLock.SELF;
        long dead = deadPid();
        List<RepositoryLock.Holder> others = List.of(
                holder(
                        "backup",
                        self.host(),
                        1,
                        12345L,
                        self.bootId(),
                        OTHER_PID_NS,
                        Instant.now(),
                        Duration.ofMinutes(5)),
                holder(
                        "backup",
                        self.host(),
                        dead,
                        null,
                        self.bootId(),
                        OTHER_PID_NS,
                        Instant.now(),
                        Duration.ofMinutes(5)),
                holder(
                        "backup",
                        self.host(),
                        dead,
                        null,
                        OTHER_BOOT,
                        self.pidNamespace(),
                        Instant.now(),
                        Duration.ofMinutes(5)),
                holder("backup", self.host(), dead, null, null, null, Instant.now(), Duration.ofMinutes(5)));
        for (RepositoryLock.Holder h : others) {
            assertThat(RepositoryLock.staleReason(h, Instant.now(), RepositoryLock.DEFAULT_TTL))
                    .as(h.toString())
                    .isNull();
            writeLock(RepositoryLock.EXCLUSIVE, h);
            assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null))
                    .as(h.toString())
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("counts as stale once it has not been renewed for 5m");
            assertThat(holderAt(RepositoryLock.EXCLUSIVE).token()).isEqualTo(h.token());
            // ... until its lease runs out, whoever it is
            assertThat(RepositoryLock.staleReason(
                            h, Instant.now().plus(Duration.ofMinutes(5)).plusSeconds(1), RepositoryLock.DEFAULT_TTL))
                    .contains("not renewed since");
        }
        // the same records in our own boot and namespace are judged by pid at once
        assertThat(RepositoryLock.staleReason(
                        holder(
                                "backup",
                                self.host(),
                                dead,
                                null,
                                self.bootId(),
                                self.pidNamespace(),
                                Instant.now(),
                                Duration.ofMinutes(5)),
                        Instant.now(),
                        RepositoryLock.DEFAULT_TTL))
                .contains("is gone");
        assertThat(RepositoryLock.staleReason(
                        holder(
                                "backup",
                                self.host(),
                                1,
                                12345L,
                                self.bootId(),
                                self.pidNamespace(),
                                Instant.now(),
                                Duration.ofMinutes(5)),
                        Instant.now(),
                        RepositoryLock.DEFAULT_TTL))
                .contains("another process");
    }

    /** Written as an older Lifeboat reads it: host name and pid match a live process (init) that is not the holder. */
    @Test
    void aLockFromAnotherPidNamespaceWithOurHostNameIsNotBroken() throws Exception {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("operation", "backup");
        m.put("detail", "in container B");
        m.put("host", Hosts.name()); // containers often share the host's name, or all say "localhost"
        m.put("pid", 1);
        m.put("processStart", "2020-01-01T00:00:00Z");
        m.put("acquired", Instant.now().toString());
        m.put("token", UUID.randomUUID().toString());
        m.put("bootId", RepositoryLock.SELF.bootId());
        m.put("pidNamespace", OTHER_PID_NS);
        m.put("renewed", Instant.now().toString());
        m.put("ttl", "PT5M");
        byte[] json = Json.MAPPER.writeValueAsBytes(m);
        repo.store().put(RepositoryLock.EXCLUSIVE, json);
        assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null))
                .isInstanceOf(RepositoryException.Locked.class)
                .hasMessageContaining("in container B");
        assertThat(repo.store().get(RepositoryLock.EXCLUSIVE)).isEqualTo(json);
    }

    @Test
    void aLockNotRenewedForLongerThanItsTtlIsStaleOnAnyHost() throws Exception {
        writeLock(
                RepositoryLock.EXCLUSIVE,
                holder(
                        "backup",
                        "db9.example",
                        4242,
                        99L,
                        OTHER_BOOT,
                        OTHER_PID_NS,
                        Instant.now().minus(Duration.ofMinutes(6)),
                        Duration.ofMinutes(5)));
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null)) {
            assertThat(holderAt(RepositoryLock.EXCLUSIVE).token()).isEqualTo(lock.token());
        }
        // a renewal through the holder's lease object keeps it alive although locks/exclusive itself is old
        RepositoryLock.Holder old = holder(
                "backup",
                "db9.example",
                4242,
                99L,
                OTHER_BOOT,
                OTHER_PID_NS,
                Instant.now().minus(Duration.ofHours(3)),
                Duration.ofMinutes(5));
        writeLock(RepositoryLock.EXCLUSIVE, old);
        writeLock(
                RepositoryLock.LEASE_PREFIX + old.token(),
                old.renewedAt(Instant.now().minusSeconds(20)));
        assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null))
                .isInstanceOf(RepositoryException.Locked.class)
                .hasMessageContaining("db9.example");
        // the lease object of another token does not count
        writeLock(
                RepositoryLock.LEASE_PREFIX + old.token(),
                holder(
                        "backup",
                        "db9.example",
                        4242,
                        99L,
                        OTHER_BOOT,
                        OTHER_PID_NS,
                        Instant.now(),
                        Duration.ofMinutes(5)));
        try (RepositoryLock lock = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null)) {
            assertThat(locks())
                    .as("the broken holder's lease object is gone too")
                    .containsExactly(RepositoryLock.EXCLUSIVE);
            assertThat(lock.token()).isNotEqualTo(old.token());
        }
    }

    @Test
    void heldLocksAreRenewedSoTheyOutliveTheirTtl() throws Exception {
        System.setProperty(RepositoryLock.TTL_PROPERTY, "1s");
        try (RepositoryLock backup = RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, "backup", "long");
                RepositoryLock reader = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore", "long")) {
            Instant taken = holderAt(RepositoryLock.EXCLUSIVE).acquired();
            Thread.sleep(2500);
            assertThat(locks()).contains(RepositoryLock.LEASE_PREFIX + backup.token());
            RepositoryLock.Holder lease = holderAt(RepositoryLock.LEASE_PREFIX + backup.token());
            assertThat(lease.token()).isEqualTo(backup.token());
            assertThat(lease.renewed()).isAfter(taken.plusMillis(1500));
            assertThat(holderAt(RepositoryLock.SHARED_PREFIX + reader.token()).renewed())
                    .isAfter(taken.plusMillis(1500));
            assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, "backup", null))
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("backup long");
            assertThat(RepositoryLock.liveShared(repo))
                    .extracting(RepositoryLock.Holder::token)
                    .containsExactly(reader.token());
            backup.assertHeld();
            reader.assertHeld();
        }
        assertThat(locks()).as("lock and lease object released").isEmpty();
    }

    @Test
    void aHolderWhoseLockWasBrokenFindsOutBeforeItsNextCommit() throws Exception {
        System.setProperty(RepositoryLock.TTL_PROPERTY, "2s");
        RepositoryLock a = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", "A");
        a.assertHeld();
        // an operator runs `unlock` while A is alive, and B takes the lock
        assertThat(RepositoryLock.breakAll(repo)).isEqualTo(1);
        try (RepositoryLock b = RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, "backup", "B")) {
            Thread.sleep(300); // assertHeld reads the store at most every min(1 s, TTL/10)
            assertThatThrownBy(a::assertHeld)
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("lost the exclusive lock")
                    .hasMessageContaining("now names backup B");
            assertThatThrownBy(a::assertHeld).as("and stays lost").isInstanceOf(RepositoryException.Locked.class);
            a.close();
            assertThat(holderAt(RepositoryLock.EXCLUSIVE).token())
                    .as("A's close leaves B's lock alone")
                    .isEqualTo(b.token());
            b.assertHeld();
        }
        assertThat(locks()).isEmpty();
    }

    /** A holder that cannot renew (here its writes fail) is broken after its TTL, and stops before its next change. */
    @Test
    void aHolderThatCannotRenewLosesTheLockAfterItsTtl() throws Exception {
        System.setProperty(RepositoryLock.TTL_PROPERTY, "1s");
        FailingPuts store = new FailingPuts(repo.store());
        Repository repoA = Repository.open(store, null);
        RepositoryLock a = RepositoryLock.acquire(repoA, RepositoryLock.Mode.EXCLUSIVE, "gc", "A");
        store.failing = true;
        Thread.sleep(1300);
        try (RepositoryLock b = RepositoryLock.acquire(repo, RepositoryLock.Mode.APPEND, "backup", "B")) {
            assertThatThrownBy(a::assertHeld).isInstanceOf(RepositoryException.Locked.class);
            store.failing = false;
            Thread.sleep(300); // the renewer's next check (every TTL/10) finds the lock gone or B's
            assertThatThrownBy(a::assertHeld)
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("lost the exclusive lock")
                    .hasMessageContaining("taken for gc A");
            a.close();
            assertThat(holderAt(RepositoryLock.EXCLUSIVE).token()).isEqualTo(b.token());
        }
    }

    @Test
    void assertHeldRefusesOnceRenewalsHaveFailedForHalfTheTtl() throws Exception {
        System.setProperty(RepositoryLock.TTL_PROPERTY, "1s");
        FailingPuts store = new FailingPuts(repo.store());
        try (RepositoryLock a =
                RepositoryLock.acquire(Repository.open(store, null), RepositoryLock.Mode.EXCLUSIVE, "gc", "A")) {
            store.failing = true;
            Thread.sleep(700);
            assertThatThrownBy(a::assertHeld)
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("could not be renewed")
                    .hasMessageContaining("injected");
            store.failing = false;
        }
        assertThat(locks()).isEmpty();
    }

    @Test
    void unlockPrintsEveryFieldAndKeepsReplayLeasesUnlessAsked() throws Exception {
        RepositoryLock.Self self = RepositoryLock.SELF;
        RepositoryLock.Holder other = holder(
                "backup", "db9.example", 4242, 99L, OTHER_BOOT, OTHER_PID_NS, Instant.now(), Duration.ofMinutes(5));
        writeLock(RepositoryLock.EXCLUSIVE, other);
        writeLegacy(
                RepositoryLock.SHARED_PREFIX + "old",
                "restore",
                "/srv/old",
                self.host(),
                deadPid(),
                null,
                Instant.now());
        ReplayLease.Lease lease = ReplayLease.create(
                repo.store(), "20261124-100000F-0000", 1, "0/5000028", 16L << 20, dir.resolve("pitr"));
        String uri = "file://" + dir.resolve("repo").toAbsolutePath();

        String out = unlock("--repo", uri);
        assertThat(out)
                .contains(
                        "removing locks/exclusive held by backup (pid 4242 on host db9.example)",
                        "owner token " + other.token(),
                        "boot id " + OTHER_BOOT,
                        "pid namespace " + OTHER_PID_NS,
                        "lease 5m",
                        "last renewed",
                        "NOT stale",
                        "removing locks/shared-old",
                        "written by an older Lifeboat",
                        "stale: its process",
                        "keeping replay lease " + lease.key(),
                        "the recovery into " + dir.resolve("pitr"),
                        "add --replay-leases",
                        "removed 2 lock(s)");
        assertThat(locks()).containsExactly(lease.key());
        out = unlock("--repo", uri, "--replay-leases");
        assertThat(out).contains("removing replay lease " + lease.key(), "removed 1 lock(s) and replay lease(s)");
        assertThat(locks()).isEmpty();
    }

    private static String unlock(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            int code = Main.run(prepend("unlock", args));
            assertThat(code).as(out.toString(StandardCharsets.UTF_8)).isZero();
        } finally {
            System.setOut(old);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static String[] prepend(String first, String... rest) {
        String[] all = new String[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    /**
     * A real second JVM in a new PID namespace ({@code unshare --pid --fork --mount-proc}, root only) holds the lock
     * as pid 1 of its namespace; here pid 1 is init, alive with another start time, and the host name is the same,
     * so the old host+pid rule broke its lock at once. Now it holds until the child dies and its lease runs out.
     */
    @Test
    void aLockHeldInAnotherPidNamespaceHoldsUntilItsLeaseRunsOut() throws Exception {
        Assumptions.assumeTrue(
                Processes.isRoot()
                        && Processes.run(
                                                List.of("unshare", "--pid", "--fork", "--mount-proc", "true"),
                                                Duration.ofSeconds(10))
                                        .exitCode()
                                == 0,
                "unshare --pid needs root");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        ProcessBuilder pb = new ProcessBuilder(
                        "unshare",
                        "--pid",
                        "--fork",
                        "--mount-proc",
                        "--kill-child=SIGKILL",
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp",
                        cp,
                        LockHolderMain.class.getName(),
                        dir.resolve("repo").toString(),
                        "in a PID namespace")
                .redirectErrorStream(true);
        pb.environment().put(RepositoryLock.TTL_ENV, "3s");
        Process child = pb.start();
        try {
            BufferedReader r =
                    new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            String line = r.readLine();
            assertThat(line).as("child output").startsWith("HELD ").contains(" pid 1");
            RepositoryLock.Holder h = holderAt(RepositoryLock.EXCLUSIVE);
            assertThat(h.pid()).isEqualTo(1);
            assertThat(h.host()).isEqualTo(Hosts.name());
            assertThat(h.bootId()).isEqualTo(RepositoryLock.SELF.bootId());
            assertThat(h.pidNamespace()).isNotEqualTo(RepositoryLock.SELF.pidNamespace());
            assertThat(h.ttl()).isEqualTo(Duration.ofSeconds(3));
            Thread.sleep(4000); // longer than its TTL: only its renewals keep it
            assertThatThrownBy(() -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null))
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("in a PID namespace");

            child.destroyForcibly(); // SIGKILL to unshare, which SIGKILLs the JVM: nothing is released
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(locks()).contains(RepositoryLock.EXCLUSIVE);
            Instant lastRenewal =
                    holderAt(RepositoryLock.LEASE_PREFIX + h.token()).renewed();
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            RepositoryLock taken = null;
            while (taken == null && System.nanoTime() < deadline) {
                try {
                    taken = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "gc", null);
                } catch (RepositoryException.Locked e) {
                    Thread.sleep(200);
                }
            }
            assertThat(taken)
                    .as("taken over once the dead child's lease ran out")
                    .isNotNull();
            assertThat(Instant.now()).as("not before its lease ran out").isAfter(lastRenewal.plusSeconds(3));
            taken.close();
        } finally {
            child.destroyForcibly();
        }
    }

    /** A real store whose puts can be made to fail, as a holder cut off from its store sees it. */
    static final class FailingPuts extends InterleavingStore {
        volatile boolean failing;

        FailingPuts(BlobStore delegate) {
            super(delegate, "", null);
        }

        @Override
        public void put(String k, byte[] data, int offset, int length) throws IOException {
            if (failing) {
                throw new IOException("injected: store unreachable");
            }
            super.put(k, data, offset, length);
        }
    }

    /** A real store whose first read of one key runs another actor right after the read (before returning). */
    static class InterleavingStore implements BlobStore {
        private final BlobStore delegate;
        private final String key;
        private Runnable onFirstGet;

        InterleavingStore(BlobStore delegate, String key, Runnable onFirstGet) {
            this.delegate = delegate;
            this.key = key;
            this.onFirstGet = onFirstGet;
        }

        @Override
        public byte[] get(String k) throws IOException {
            byte[] b = delegate.get(k);
            if (k.equals(key) && onFirstGet != null) {
                Runnable r = onFirstGet;
                onFirstGet = null;
                r.run();
            }
            return b;
        }

        @Override
        public void put(String k, byte[] data, int offset, int length) throws IOException {
            delegate.put(k, data, offset, length);
        }

        @Override
        public boolean putIfAbsent(String k, byte[] data) throws IOException {
            return delegate.putIfAbsent(k, data);
        }

        @Override
        public byte[] getRange(String k, long offset, int length) throws IOException {
            return delegate.getRange(k, offset, length);
        }

        @Override
        public InputStream open(String k) throws IOException {
            return delegate.open(k);
        }

        @Override
        public Optional<BlobInfo> stat(String k) throws IOException {
            return delegate.stat(k);
        }

        @Override
        public List<BlobInfo> list(String prefix) throws IOException {
            return delegate.list(prefix);
        }

        @Override
        public void delete(String k) throws IOException {
            delegate.delete(k);
        }

        @Override
        public String uri() {
            return delegate.uri();
        }
    }
}
