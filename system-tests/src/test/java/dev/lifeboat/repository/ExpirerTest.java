package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.cli.commands.repo.ExpireCommand;
import dev.lifeboat.engine.postgres.PostgresBackupInfo;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Hosts;
import dev.lifeboat.util.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Expire on a real repository (64 KiB packs, so a handful of 10 KiB chunks fill one) with hand-made manifests and
 * fake archived WAL. Four backups, created in time order:
 * <pre>
 *   OLD    now-10d  chunks c0..c13          -> packs P1 (c0..c6), P2 (c7..c13)     expires
 *   X      now-9d   chunks x0..x6           -> pack P4                           expires
 *   KEEP   now-2d   c0, c1, c7..c11, a page delta on c2, n0..n6
 *                                           -> pack P3 (the delta, n0..n6)        kept (last 2 full)
 *   NEWEST now-1h   n0..n6, y0..y2          -> pack P5 (y0..y2)                  kept (last 2 full, newest)
 * </pre>
 * After expiring OLD and X: P4 is unreferenced (deleted), P1 holds 3 of 7 referenced chunks (c0, c1 and the delta's
 * base c2: repacked), P2 holds 5 of 7 (kept as it is), P3 and P5 are fully used. WAL: KEEP starts in segment 5 on
 * timeline 1, NEWEST on timeline 2.
 */
class ExpirerTest {
    static final Instant NOW = Instant.parse("2026-11-24T12:00:00Z");
    static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
    static final int PACK_SIZE = 64 * 1024;
    static final int CHUNK = 10 * 1024;
    static final int PAGE = 1024;
    static final long SEG = 16L << 20;
    static final RetentionPolicy KEEP_TWO = new RetentionPolicy(2, 0, 0, 0, Duration.ZERO);
    static final DateTimeFormatter ID_TIME =
            DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);

    static final List<String> WAL_BEFORE = List.of(
            "000000010000000000000001",
            "000000010000000000000001.00000028.backup",
            "000000010000000000000002",
            "000000010000000000000003",
            "000000010000000000000004");
    static final List<String> WAL_AFTER = List.of(
            "000000010000000000000005",
            "000000010000000000000005.00000060.backup",
            "000000010000000000000006",
            "000000010000000000000007.partial",
            "00000002.history",
            "000000020000000000000007",
            "000000020000000000000008",
            "000000020000000000000009");

    @TempDir
    Path dir;

    static KeySource fastKey() {
        return new KeySource.KeyFile(
                Path.of("/nonexistent/expire.key"),
                "ZXhwaXJlLXRlc3Qta2V5LWZpbGUtY29udGVudHMtMDEyMzQ1Njc4OQ==".getBytes(StandardCharsets.UTF_8));
    }

    /** A new repository with 64 KiB packs (the config is plain JSON, so a test can shrink the pack size). */
    static Repository create(Path dir, boolean encrypted) throws IOException {
        LocalBlobStore store = new LocalBlobStore(dir);
        KeySource key = encrypted ? fastKey() : null;
        RepositoryConfig c = Repository.init(store, key, !encrypted);
        store.put(
                Repository.CONFIG_KEY,
                Json.MAPPER.writeValueAsBytes(new RepositoryConfig(
                        c.format(),
                        c.version(),
                        c.id(),
                        c.created(),
                        c.chunking(),
                        PACK_SIZE,
                        c.cipher(),
                        c.keys(),
                        c.plainIdKey())));
        Repository repo = Repository.open(store, key);
        assertThat(repo.config().packSize()).isEqualTo(PACK_SIZE);
        return repo;
    }

    static List<byte[]> chunks(int n, long seed) {
        List<byte[]> out = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            byte[] b = new byte[CHUNK];
            r.nextBytes(b);
            out.add(b);
        }
        return out;
    }

    /** One backup's worth of chunks through a ChunkWriter (one session, so packs fill in order). */
    static List<String> store(Repository repo, List<byte[]> chunks) throws Exception {
        List<String> ids = new ArrayList<>();
        try (ChunkWriter w = new ChunkWriter(repo, repo.loadIndex(), Compression.LOW, 2)) {
            try (ChunkWriter.Session s = w.session()) {
                for (byte[] c : chunks) {
                    ids.add(s.store(c, 0, c.length).hex());
                }
            }
            w.finish();
        }
        return ids;
    }

    static byte[] concat(List<byte[]> parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        parts.forEach(out::writeBytes);
        return out.toByteArray();
    }

    /** A one-file backup of {@code content} (CHUNK-sized chunks stored as {@code chunkIds}, deltas included). */
    static Snapshot snapshot(
            Repository repo,
            Instant start,
            String startLsn,
            String stopLsn,
            int timeline,
            String path,
            byte[] content,
            List<String> chunkIds)
            throws Exception {
        List<ChunkId> contentIds = new ArrayList<>();
        for (int off = 0; off < content.length; off += CHUNK) {
            contentIds.add(ChunkId.of(repo.chunkIds().idOf(content, off, Math.min(CHUNK, content.length - off))));
        }
        String id = ID_TIME.format(start) + "F-" + HexFormat.of().toHexDigits((short) start.getEpochSecond());
        PostgresBackupInfo info = PostgresBackupInfo.fromLegacy(Map.of(
                "pgVersion",
                "15.8",
                "startLsn",
                startLsn,
                "stopLsn",
                stopLsn,
                "timeline",
                Integer.toString(timeline),
                "walSegmentSize",
                Long.toString(SEG)));
        List<Snapshot.FileEntry> files = List.of(
                new Snapshot.FileEntry(
                        "base", Snapshot.Kind.DIRECTORY, 0700, "postgres", "postgres", 0, 0, null, null, null),
                new Snapshot.FileEntry(
                        path,
                        Snapshot.Kind.FILE,
                        0600,
                        "postgres",
                        "postgres",
                        start.toEpochMilli(),
                        content.length,
                        ContentDigest.of(contentIds),
                        chunkIds,
                        null));
        return new Snapshot(
                id,
                "full",
                "postgresql",
                null,
                start,
                start.plusSeconds(60),
                "testhost",
                "/pgdata",
                Compression.LOW.label(),
                info,
                List.of(),
                files,
                new Snapshot.Stats(content.length, 0, 0, 1, chunkIds.size(), 0, 60));
    }

    static Set<String> packIds(Repository repo) throws IOException {
        Set<String> out = new HashSet<>();
        for (BlobInfo b : repo.listPacks()) {
            out.add(Repository.packIdOf(b.key()));
        }
        return out;
    }

    static long packBytes(Repository repo) throws IOException {
        return repo.listPacks().stream().mapToLong(BlobInfo::size).sum();
    }

    /** Everything but the locks, with sizes: what "nothing changed" compares. */
    static List<BlobInfo> contents(Repository repo) throws IOException {
        return repo.store().list("").stream()
                .filter(b -> !b.key().startsWith(Repository.LOCKS))
                .toList();
    }

    final class Scenario {
        final Repository repo;
        final List<byte[]> c = chunks(14, 1);
        final List<byte[]> x = chunks(7, 2);
        final List<byte[]> n = chunks(7, 3);
        final List<byte[]> y = chunks(3, 4);
        final Snapshot old;
        final Snapshot xBackup;
        final Snapshot keep;
        final Snapshot newest;
        final byte[] keepData;
        final byte[] newestData;
        final Set<String> p1p2;
        final Set<String> p4;
        final Set<String> p3;
        final Set<String> p5;

        Scenario(boolean encrypted) throws Exception {
            repo = create(dir.resolve("repo"), encrypted);
            List<String> oldIds = store(repo, c);
            p1p2 = packIds(repo);
            old = snapshot(
                    repo, NOW.minus(Duration.ofDays(10)), "0/1000028", "0/1000100", 1, "base/1/old", concat(c), oldIds);
            repo.saveSnapshot(old);

            List<String> xIds = store(repo, x);
            p4 = minus(packIds(repo), p1p2);
            xBackup = snapshot(
                    repo, NOW.minus(Duration.ofDays(9)), "0/3000028", "0/3000100", 1, "base/1/x", concat(x), xIds);
            repo.saveSnapshot(xBackup);

            // KEEP's eighth block is c2 with one page changed, stored as a page delta on c2 (as an incremental does)
            byte[] changed = c.get(2).clone();
            Arrays.fill(changed, 3 * PAGE, 4 * PAGE, (byte) 7);
            ChunkId c2 = ChunkId.of(repo.chunkIds().idOf(c.get(2), 0, CHUNK));
            byte[] delta = ChunkRefs.encodeDelta(c2, c.get(2), changed, 0, CHUNK, PAGE);
            assertThat(delta).isNotNull();
            List<byte[]> keepChunks = new ArrayList<>(List.of(c.get(0), c.get(1)));
            keepChunks.addAll(c.subList(7, 12));
            keepChunks.add(delta);
            keepChunks.addAll(n);
            List<String> keepIds = new ArrayList<>(store(repo, keepChunks));
            keepIds.set(
                    7,
                    ChunkRefs.delta(
                            ChunkId.parse(keepIds.get(7)),
                            c2,
                            ChunkId.of(repo.chunkIds().idOf(changed, 0, CHUNK))));
            keepChunks.set(7, changed);
            keepData = concat(keepChunks);
            p3 = minus(minus(packIds(repo), p1p2), p4);
            keep = snapshot(
                    repo, NOW.minus(Duration.ofDays(2)), "0/5000060", "0/5000200", 1, "base/1/keep", keepData, keepIds);
            repo.saveSnapshot(keep);

            List<byte[]> newestChunks = new ArrayList<>(n);
            newestChunks.addAll(y);
            newestData = concat(newestChunks);
            List<String> newestIds = store(repo, newestChunks);
            p5 = minus(minus(minus(packIds(repo), p1p2), p4), p3);
            newest = snapshot(
                    repo,
                    NOW.minus(Duration.ofHours(1)),
                    "0/8000028",
                    "0/8000100",
                    2,
                    "base/1/newest",
                    newestData,
                    newestIds);
            repo.saveSnapshot(newest);

            assertThat(p1p2).hasSize(2);
            assertThat(p4).hasSize(1);
            assertThat(p3).hasSize(1);
            assertThat(p5).hasSize(1);

            WalArchive wal = new WalArchive(repo);
            for (String name : WAL_BEFORE) {
                wal.push(name, ("wal " + name).substring(0, 16).getBytes(StandardCharsets.US_ASCII));
            }
            for (String name : WAL_AFTER) {
                wal.push(
                        name,
                        name.endsWith(".history")
                                ? "1\t0/7000000\tno recovery target specified\n".getBytes(StandardCharsets.US_ASCII)
                                : ("wal " + name).substring(0, 16).getBytes(StandardCharsets.US_ASCII));
            }
        }

        /** The pack of P1/P2 that holds c0 (and c1): only 2 of its 7 chunks stay referenced. */
        String p1() throws IOException {
            return repo.loadIndex()
                    .get(ChunkId.of(repo.chunkIds().idOf(c.get(0), 0, CHUNK)))
                    .packId();
        }
    }

    static Set<String> minus(Set<String> a, Set<String> b) {
        Set<String> out = new HashSet<>(a);
        out.removeAll(b);
        return out;
    }

    static byte[] restore(Repository repo, String backupId) throws Exception {
        Snapshot s = repo.loadSnapshot(backupId);
        Snapshot.FileEntry f = s.files().stream()
                .filter(e -> e.kind() == Snapshot.Kind.FILE)
                .findFirst()
                .orElseThrow();
        List<byte[]> parts = new ArrayList<>();
        List<ChunkId> ids = new ArrayList<>();
        new ChunkReader(repo, repo.loadIndex()).readWithIds(f.chunks(), (id, plain) -> {
            ids.add(id);
            parts.add(plain);
        });
        byte[] data = concat(parts);
        assertThat(ContentDigest.of(ids)).isEqualTo(f.digest());
        return data;
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void expireDeletesExpiredBackupsTheirWalAndDataAndRepacksHalfEmptyPacks(boolean encrypted) throws Exception {
        Scenario s = new Scenario(encrypted);
        String p1 = s.p1();
        String p2 = minus(s.p1p2, Set.of(p1)).iterator().next();
        long packBytesBefore = packBytes(s.repo);

        Expirer.Result r = new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false);

        assertThat(r.dryRun()).isFalse();
        assertThat(r.now()).isEqualTo(NOW);
        assertThat(r.expired()).containsExactly(s.old.id(), s.xBackup.id());
        assertThat(r.kept()).containsOnlyKeys(s.keep.id(), s.newest.id());
        assertThat(r.kept().get(s.keep.id())).containsExactly("last 2 full");
        assertThat(r.kept().get(s.newest.id())).containsExactly("last 2 full", "newest backup");
        assertThat(s.repo.listSnapshotIds()).containsExactly(s.keep.id(), s.newest.id());

        // WAL: everything before KEEP's start segment (5) goes, on every timeline; the rest and history files stay
        assertThat(r.walKeptFrom()).isEqualTo("000000010000000000000005");
        assertThat(r.walDeleted()).containsExactlyInAnyOrderElementsOf(WAL_BEFORE);
        assertThat(new WalArchive(s.repo).list()).containsExactlyInAnyOrderElementsOf(WAL_AFTER);
        assertThat(new WalArchive(s.repo).read("000000010000000000000005")).isPresent();

        // data: P4 (only X used it) is deleted, P1 repacked into one new pack, P2, P3, P5 untouched
        assertThat(r.packsDeleted()).isEqualTo(1);
        assertThat(r.packsRepacked()).isEqualTo(1);
        assertThat(r.packsWritten()).isEqualTo(1);
        assertThat(r.packsKept()).isEqualTo(3);
        Set<String> after = packIds(s.repo);
        assertThat(after)
                .hasSize(4)
                .doesNotContain(p1)
                .doesNotContainAnyElementsOf(s.p4)
                .contains(p2)
                .containsAll(s.p3)
                .containsAll(s.p5);
        String repacked =
                minus(minus(minus(after, Set.of(p2)), s.p3), s.p5).iterator().next();
        ChunkIndex index = s.repo.loadIndex();
        assertThat(index.packSizes().keySet()).isEqualTo(after);
        assertThat(s.repo.store().list(Repository.INDEX)).hasSize(1);
        List<ChunkId> moved = new ArrayList<>();
        for (int i : new int[] {0, 1, 2}) {
            moved.add(ChunkId.of(s.repo.chunkIds().idOf(s.c.get(i), 0, CHUNK)));
            assertThat(index.get(moved.getLast()).packId()).isEqualTo(repacked);
        }
        // the new pack holds exactly c0, c1 and c2, and its own trailer says so (rebuild-index would find them)
        BlobInfo repackedInfo = s.repo.store().stat(Pack.key(repacked)).orElseThrow();
        assertThat(s.repo.readPackTrailer(repacked, repackedInfo.size()))
                .extracting(PackedChunk::id)
                .containsExactlyInAnyOrderElementsOf(moved);
        long packBytesAfter = packBytes(s.repo);
        assertThat(packBytesAfter).isLessThan(packBytesBefore - 10L * CHUNK); // P4's 7 chunks and P1's 4 dead ones
        assertThat(r.bytesFreed()).isGreaterThanOrEqualTo(packBytesBefore - packBytesAfter);

        // the kept backups restore byte for byte, and a full read-data verify finds nothing wrong
        assertThat(restore(s.repo, s.keep.id())).isEqualTo(s.keepData);
        assertThat(restore(s.repo, s.newest.id())).isEqualTo(s.newestData);
        Verifier.Report v = new Verifier(s.repo).verify(null, true, 2, ProgressListener.NONE, Cancellation.none());
        // the fixture's WAL files are 16-byte stand-ins, which read-data rightly rejects: only the data must be clean
        assertThat(v.problems()).filteredOn(p -> p.timeline() == null).isEmpty();
        assertThat(v.backups()).containsExactly(s.keep.id(), s.newest.id());
        assertThat(s.repo.store().list(Repository.LOCKS)).isEmpty();

        // a second run has nothing left to do
        Expirer.Result again = new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false);
        assertThat(again.expired()).isEmpty();
        assertThat(again.walDeleted()).isEmpty();
        assertThat(again.packsDeleted()).isZero();
        assertThat(again.packsRepacked()).isZero();
        assertThat(again.indexFilesRewritten()).isZero();
        assertThat(again.bytesFreed()).isZero();
        assertThat(packIds(s.repo)).isEqualTo(after);
    }

    @ParameterizedTest(name = "encrypted={0}")
    @ValueSource(booleans = {true, false})
    void dryRunReportsExactlyWhatARealRunDoesButChangesNothing(boolean encrypted) throws Exception {
        Scenario s = new Scenario(encrypted);
        List<BlobInfo> before = contents(s.repo);

        Expirer.Result dry = new Expirer(s.repo, CLOCK).expire(KEEP_TWO, true);
        assertThat(dry.dryRun()).isTrue();
        assertThat(contents(s.repo)).isEqualTo(before);
        assertThat(s.repo.store().list(Repository.LOCKS)).isEmpty();
        assertThat(dry.expired()).containsExactly(s.old.id(), s.xBackup.id());
        assertThat(dry.walDeleted()).containsExactlyInAnyOrderElementsOf(WAL_BEFORE);
        assertThat(dry.packsDeleted()).isEqualTo(1);
        assertThat(dry.packsRepacked()).isEqualTo(1);
        assertThat(dry.indexFilesRewritten()).isZero();

        Expirer.Result real = new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false);
        assertThat(real.kept()).isEqualTo(dry.kept());
        assertThat(real.expired()).isEqualTo(dry.expired());
        assertThat(real.walDeleted()).isEqualTo(dry.walDeleted());
        assertThat(real.packsDeleted()).isEqualTo(dry.packsDeleted());
        assertThat(real.packsRepacked()).isEqualTo(dry.packsRepacked());
        assertThat(real.packsWritten()).isEqualTo(dry.packsWritten());
        assertThat(real.bytesFreed())
                .as("the dry run predicts the new pack's size exactly")
                .isEqualTo(dry.bytesFreed());
    }

    @Test
    void expireRefusesWhileARestoreOrVerifyOrBackupHoldsALock() throws Exception {
        Scenario s = new Scenario(false);
        List<BlobInfo> before = contents(s.repo);
        try (RepositoryLock reader =
                RepositoryLock.acquire(s.repo, RepositoryLock.Mode.SHARED, "restore", "/srv/restore")) {
            assertThatThrownBy(() -> new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false))
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("restore");
            assertThatThrownBy(() -> new Expirer(s.repo, CLOCK).expire(KEEP_TWO, true))
                    .isInstanceOf(RepositoryException.Locked.class);
        }
        assertThat(contents(s.repo)).isEqualTo(before);
        try (RepositoryLock backup =
                RepositoryLock.acquire(s.repo, RepositoryLock.Mode.APPEND, "backup", "20261124-115900F-0000")) {
            assertThatThrownBy(() -> new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false))
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("backup");
        }
        assertThat(contents(s.repo)).isEqualTo(before);
        // while expire holds its lock, a restore cannot start
        try (RepositoryLock gc = RepositoryLock.acquire(s.repo, RepositoryLock.Mode.EXCLUSIVE, "expire", null)) {
            assertThatThrownBy(
                            () -> RepositoryLock.acquire(s.repo, RepositoryLock.Mode.SHARED, "restore", "/srv/restore"))
                    .isInstanceOf(RepositoryException.Locked.class);
        }
        // once the locks are gone it runs
        assertThat(new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false).expired()).hasSize(2);
    }

    /** A lock broken under a running expire (here by `unlock` and a backup taking it): nothing is deleted after that.
     * */
    @Test
    void expireThatLostItsLockDeletesNothing() throws Exception {
        Scenario s = new Scenario(false);
        List<BlobInfo> before = contents(s.repo);
        List<RepositoryLock> backup = new ArrayList<>();
        System.setProperty(RepositoryLock.TTL_PROPERTY, "2s"); // assertHeld reads the lock every TTL/10 = 200 ms
        try {
            RepositoryLockTest.InterleavingStore store =
                    new RepositoryLockTest.InterleavingStore(s.repo.store(), "", null) {
                        @Override
                        public List<BlobInfo> list(String prefix) throws IOException {
                            if (prefix.equals(WalArchive.PREFIX) && backup.isEmpty()) {
                                RepositoryLock.breakAll(s.repo);
                                backup.add(RepositoryLock.acquire(s.repo, RepositoryLock.Mode.APPEND, "backup", "B"));
                                try {
                                    Thread.sleep(300);
                                } catch (InterruptedException e) {
                                    throw new IOException(e);
                                }
                            }
                            return super.list(prefix);
                        }
                    };
            Repository expireView = Repository.open(store, null);
            assertThatThrownBy(() -> new Expirer(expireView, CLOCK).expire(KEEP_TWO, false))
                    .isInstanceOf(RepositoryException.Locked.class)
                    .hasMessageContaining("lost the exclusive lock")
                    .hasMessageContaining("backup B");
            assertThat(contents(s.repo)).as("no manifest, WAL or pack deleted").isEqualTo(before);
            backup.getFirst().close();
        } finally {
            System.clearProperty(RepositoryLock.TTL_PROPERTY);
        }
        assertThat(new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false).expired()).hasSize(2);
    }

    @Test
    void pitrWindowKeepsItsBaseBackupAndTheWalFromItsStart() throws Exception {
        Scenario s = new Scenario(false);
        // keep the newest full only, but recover any point of the last 5 days: X (stopped 9 days ago) is the base
        Expirer.Result r =
                new Expirer(s.repo, CLOCK).expire(new RetentionPolicy(1, 0, 0, 0, Duration.ofDays(5)), false);
        assertThat(r.expired()).containsExactly(s.old.id());
        assertThat(r.kept()).containsOnlyKeys(s.xBackup.id(), s.keep.id(), s.newest.id());
        assertThat(r.kept().get(s.xBackup.id())).containsExactly("base of PITR window");
        assertThat(r.kept().get(s.keep.id())).containsExactly("inside PITR window");
        assertThat(r.walKeptFrom()).isEqualTo("000000010000000000000003");
        assertThat(r.walDeleted())
                .containsExactlyInAnyOrder(
                        "000000010000000000000001",
                        "000000010000000000000001.00000028.backup",
                        "000000010000000000000002");
        assertThat(new WalArchive(s.repo).list()).contains("000000010000000000000003", "000000010000000000000004");
        for (Snapshot k : List.of(s.keep, s.newest)) {
            assertThat(restore(s.repo, k.id())).isEqualTo(k == s.keep ? s.keepData : s.newestData);
        }
        assertThat(restore(s.repo, s.xBackup.id())).isEqualTo(concat(s.x));
        assertThat(new Verifier(s.repo)
                        .verify(null, true, 2, ProgressListener.NONE, Cancellation.none())
                        .problems())
                .filteredOn(p -> p.timeline() == null)
                .isEmpty(); // the WAL files are stand-ins, as above
    }

    /**
     * The old primary went on writing timeline 1 (segments 8 and 9) after timeline 2 branched off at 0/7000000. While
     * KEEP (timeline 1) is kept they are its PITR history; once only NEWEST (timeline 2, from segment 8) is kept, no
     * backup lies on timeline 1's history any more and all of timeline 1's segments go, although their numbers are
     * not below NEWEST's start.
     */
    @Test
    void walOnlyADeletedTimelinesBackupsNeededIsDeleted() throws Exception {
        Scenario s = new Scenario(false);
        WalArchive wal = new WalArchive(s.repo);
        for (String name : List.of("000000010000000000000008", "000000010000000000000009")) {
            wal.push(name, ("wal " + name).substring(0, 16).getBytes(StandardCharsets.US_ASCII));
        }
        Expirer.Result two = new Expirer(s.repo, CLOCK).expire(KEEP_TWO, true);
        assertThat(two.walDeleted()).containsExactlyInAnyOrderElementsOf(WAL_BEFORE);
        assertThat(two.walKeptFromByTimeline())
                .containsExactly(Map.entry(1, "000000010000000000000005"), Map.entry(2, "000000020000000000000005"));

        Expirer.Result one = new Expirer(s.repo, CLOCK).expire(new RetentionPolicy(1, 0, 0, 0, Duration.ZERO), false);
        assertThat(one.kept()).containsOnlyKeys(s.newest.id());
        List<String> timeline1 = new ArrayList<>(WAL_BEFORE);
        timeline1.addAll(List.of(
                "000000010000000000000005",
                "000000010000000000000005.00000060.backup",
                "000000010000000000000006",
                "000000010000000000000007.partial",
                "000000010000000000000008",
                "000000010000000000000009"));
        assertThat(one.walDeleted())
                .containsExactlyInAnyOrderElementsOf(concatLists(timeline1, List.of("000000020000000000000007")));
        assertThat(new WalArchive(s.repo).list())
                .containsExactly("00000002.history", "000000020000000000000008", "000000020000000000000009");
        assertThat(one.walKeptFromByTimeline())
                .containsEntry(2, "000000020000000000000008")
                .containsEntry(1, null);
        assertThat(one.walKeptFrom()).isEqualTo("000000020000000000000008");
    }

    static <T> List<T> concatLists(List<T> a, List<T> b) {
        List<T> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    /** A recovery still replaying from OLD (timeline 1, segment 1) keeps everything from segment 1 on, on both
     * timelines. */
    @Test
    void aLiveReplayLeaseKeepsTheWalItsRecoveryReplays() throws Exception {
        Scenario s = new Scenario(false);
        ReplayLease.Lease lease = ReplayLease.create(s.repo.store(), s.old, Path.of("/srv/pitr"));
        assertThat(lease.firstSegment()).isEqualTo("000000010000000000000001");

        String uri = "file://" + dir.resolve("repo").toAbsolutePath();
        String dry = run(
                "--repo",
                uri,
                "--keep-full",
                "2",
                "--keep-daily",
                "0",
                "--keep-weekly",
                "0",
                "--keep-monthly",
                "0",
                "--pitr-window",
                "0",
                "--dry-run");
        assertThat(dry)
                .contains(
                        "would delete 0 archived file(s)",
                        "timeline 1: from 000000010000000000000001",
                        "WAL kept for the recovery into /srv/pitr on " + Hosts.name() + ", lease " + lease.id());

        Expirer.Result r = new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false);
        assertThat(r.expired()).containsExactly(s.old.id(), s.xBackup.id());
        assertThat(r.walDeleted()).isEmpty();
        assertThat(r.walKeptForRecoveries())
                .singleElement()
                .asString()
                .startsWith("kept for the recovery into /srv/pitr on ")
                .contains(lease.id(), s.old.id(), "000000010000000000000001");
        assertThat(new WalArchive(s.repo).list())
                .containsExactlyInAnyOrderElementsOf(concatLists(WAL_BEFORE, WAL_AFTER));
        assertThat(s.repo.store().list(Repository.LOCKS))
                .extracting(BlobInfo::key)
                .containsExactly(lease.key());

        // the recovery ends: the next expire deletes what only it needed
        ReplayLease.release(s.repo.store(), lease.id());
        assertThat(new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false).walDeleted())
                .containsExactlyInAnyOrderElementsOf(WAL_BEFORE);
    }

    @Test
    void aStaleReplayLeaseIsIgnoredAndDeleted() throws Exception {
        Scenario s = new Scenario(false);
        ReplayLease.Lease l = ReplayLease.create(s.repo.store(), s.old, Path.of("/srv/abandoned"));
        Instant dayAgo = Instant.now().minus(Duration.ofHours(25));
        ReplayLease.Lease old = new ReplayLease.Lease(
                l.id(),
                l.backup(),
                l.timeline(),
                l.startLsn(),
                l.firstSegment(),
                l.walSegmentSize(),
                l.target(),
                l.host(),
                dayAgo,
                dayAgo);
        s.repo.store().put(l.key(), Json.MAPPER.writeValueAsBytes(old));

        // with a longer TTL it is still live
        Expirer.Result lenient = new Expirer(s.repo, CLOCK, Duration.ofHours(30)).expire(KEEP_TWO, true);
        assertThat(lenient.walDeleted()).isEmpty();
        assertThat(lenient.replayLeasesDeleted()).isEmpty();

        Expirer.Result dry = new Expirer(s.repo, CLOCK).expire(KEEP_TWO, true);
        assertThat(dry.walDeleted()).containsExactlyInAnyOrderElementsOf(WAL_BEFORE);
        assertThat(dry.walKeptForRecoveries()).isEmpty();
        assertThat(dry.replayLeasesDeleted())
                .singleElement()
                .asString()
                .contains("/srv/abandoned", "not renewed since");
        assertThat(s.repo.store().stat(l.key())).as("a dry run deletes nothing").isPresent();

        Expirer.Result r = new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false);
        assertThat(r.walDeleted()).containsExactlyInAnyOrderElementsOf(WAL_BEFORE);
        assertThat(s.repo.store().list(Repository.LOCKS)).isEmpty();
        assertThat(ReplayLease.renew(s.repo.store(), l.id())).isEqualTo(ReplayLease.Renewal.GONE);
    }

    @Test
    void aFreshUnreadableReplayLeaseStopsWalDeletion() throws Exception {
        Scenario s = new Scenario(false);
        String key = ReplayLease.PREFIX + "0b5a3c1e-0000-4000-8000-000000000000";
        s.repo.store().put(key, "{truncated".getBytes(StandardCharsets.UTF_8));
        Expirer.Result r = new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false);
        assertThat(r.expired()).hasSize(2);
        assertThat(r.walDeleted()).isEmpty();
        assertThat(r.walKeptFrom()).isNull();
        assertThat(r.walNote()).contains(key, "unreadable");
        assertThat(s.repo.store().stat(key)).isPresent();
    }

    @Test
    void noWalIsDeletedWhenAKeptBackupDoesNotSayWhereItStarts() throws Exception {
        Scenario s = new Scenario(false);
        Snapshot k = s.keep;
        s.repo.saveSnapshot(new Snapshot(
                k.id(),
                k.type(),
                k.engine(),
                k.parent(),
                k.startTime(),
                k.stopTime(),
                k.host(),
                k.sourceDirectory(),
                k.compression(),
                PostgresBackupInfo.fromLegacy(Map.of("pgVersion", "15.8")),
                k.tablespaces(),
                k.files(),
                k.stats()));
        Expirer.Result r = new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false);
        assertThat(r.expired()).hasSize(2);
        assertThat(r.walKeptFrom()).isNull();
        assertThat(r.walNote()).contains(k.id());
        assertThat(r.walDeleted()).isEmpty();
        assertThat(new WalArchive(s.repo).list()).hasSize(WAL_BEFORE.size() + WAL_AFTER.size());
    }

    @Test
    void expireOnAnIndexWithHolesDeletesNothing() throws Exception {
        Scenario s = new Scenario(false);
        for (BlobInfo b : s.repo.store().list(Repository.INDEX)) {
            s.repo.store().delete(b.key());
        }
        List<BlobInfo> before = contents(s.repo);
        assertThatThrownBy(() -> new Expirer(s.repo, CLOCK).expire(KEEP_TWO, false))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("rebuild-index");
        assertThat(contents(s.repo)).as("no manifest, WAL or pack deleted").isEqualTo(before);
        assertThat(s.repo.store().list(Repository.LOCKS)).isEmpty();
    }

    @Test
    @SuppressWarnings("unchecked")
    void theCommandPrintsKeptAndExpiredBackups() throws Exception {
        Scenario s = new Scenario(false);
        String uri = "file://" + dir.resolve("repo").toAbsolutePath();
        // the command uses the real clock: with the PITR window off only keep-full decides, whatever today's date is
        String dry = run(
                "--repo",
                uri,
                "--keep-full",
                "2",
                "--keep-daily",
                "0",
                "--keep-weekly",
                "0",
                "--keep-monthly",
                "0",
                "--pitr-window",
                "0",
                "--dry-run");
        assertThat(dry)
                .contains(
                        "keeping 2 backup(s)",
                        s.keep.id() + " ",
                        "last 2 full",
                        "would expire 2 backup(s)",
                        s.old.id(),
                        s.xBackup.id(),
                        "would delete 5 archived file(s) no kept backup or recovery needs; kept:",
                        "  timeline 1: from 000000010000000000000005",
                        "  timeline 2: from 000000020000000000000005",
                        "would repack 1");
        assertThat(s.repo.listSnapshotIds()).hasSize(4);
        String json = run(
                "--repo",
                uri,
                "--keep-full",
                "2",
                "--keep-daily",
                "0",
                "--keep-weekly",
                "0",
                "--keep-monthly",
                "0",
                "--pitr-window",
                "0",
                "--json");
        Map<?, ?> parsed = Json.MAPPER.readValue(json, Map.class);
        assertThat((List<Object>) parsed.get("expired")).containsExactly(s.old.id(), s.xBackup.id());
        assertThat(parsed.get("dryRun")).isEqualTo(false);
        assertThat(s.repo.listSnapshotIds()).containsExactly(s.keep.id(), s.newest.id());
        // bad values are usage errors (exit code 2), and nothing runs
        PrintStream err = System.err;
        try {
            System.setErr(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
            assertThat(new picocli.CommandLine(new ExpireCommand()).execute("--repo", uri, "--pitr-window", "3 days"))
                    .isEqualTo(2);
            assertThat(new picocli.CommandLine(new ExpireCommand()).execute("--repo", uri, "--keep-full", "-1"))
                    .isEqualTo(2);
        } finally {
            System.setErr(err);
        }
    }

    private static String run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            int code = new picocli.CommandLine(new ExpireCommand()).execute(args);
            assertThat(code).as(out.toString(StandardCharsets.UTF_8)).isZero();
        } finally {
            System.setOut(old);
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
