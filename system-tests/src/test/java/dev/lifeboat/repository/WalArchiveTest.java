package dev.lifeboat.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.PostgresBackupInfo;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.storage.s3.S3BlobStore;
import dev.lifeboat.storage.s3.S3MockFixture;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The WAL archive's push rules (conditional create, identity checks, timeline owners, the partial rule) on real stores
 * (local disk, S3Mock), with WAL made in PostgreSQL's page format (1 MiB segments), and {@code wal-get} through the
 * CLI.
 * The clusters themselves, real WAL and the launcher are in {@code engine.postgres.WalArchiveClustersTest}.
 */
class WalArchiveTest {
    @TempDir
    Path tmp;

    static final long SYSID = 7_312_345_678_901_234_567L;
    static final long OTHER_SYSID = 7_400_000_000_000_000_001L;
    static final int SEG_SIZE = 1 << 20;
    static final String SEG = "000000010000000000000003";

    private Repository repo() throws Exception {
        return repo(new LocalBlobStore(tmp.resolve("repo")));
    }

    private Repository repo(BlobStore store) throws Exception {
        Path key = tmp.resolve("key");
        if (!Files.exists(key)) {
            KeySource.KeyFile.create(key);
        }
        Repository.init(store, KeySource.KeyFile.read(key), false);
        return Repository.open(store, KeySource.KeyFile.read(key));
    }

    /** Another process opening the same repository. */
    private Repository reopen(BlobStore store) throws Exception {
        return Repository.open(store, KeySource.KeyFile.read(tmp.resolve("key")));
    }

    /**
     * {@code length} bytes of WAL of {@code name}'s segment as {@code sysid} writes it: a long page header (magic,
     * XLP_LONG_HEADER, the segment's address, system identifier, 1 MiB segments, 8 KiB pages), then bytes from
     * {@code seed}. The same seed gives the same prefix at any length that is a multiple of 4.
     */
    static byte[] wal(String name, long sysid, long seed, int length) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.nativeOrder());
        bb.putShort(0, (short) 0xD110)
                .putShort(2, (short) 0x0002)
                .putInt(4, Integer.parseInt(name.substring(0, 8), 16))
                .putLong(8, WalArchive.segmentNumber(name.substring(0, 24), SEG_SIZE) * SEG_SIZE)
                .putInt(16, 0)
                .putInt(20, 0)
                .putLong(24, sysid)
                .putInt(32, SEG_SIZE)
                .putInt(36, 8192);
        return b;
    }

    static byte[] segment(String name, long seed) {
        return wal(name, SYSID, seed, SEG_SIZE);
    }

    static WalSource origin() {
        return new WalSource(
                SYSID,
                "origin",
                "the original cluster (system identifier " + Long.toUnsignedString(SYSID) + ")",
                "prod-host",
                "/srv/prod",
                null,
                "wal-push");
    }

    static WalSource copy(String clusterId) {
        return new WalSource(
                SYSID,
                clusterId,
                "a copy restored from backup B1 at 2026-01-01T00:00:00Z (cluster id " + clusterId + ")",
                "copy-host",
                "/srv/copy",
                "B1",
                "wal-push");
    }

    static WalSource otherCluster() {
        return new WalSource(
                OTHER_SYSID,
                "origin",
                "the original cluster (system identifier " + Long.toUnsignedString(OTHER_SYSID) + ")",
                "other-host",
                "/srv/other",
                null,
                "wal-push");
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static RefusedException.Reason reasonOf(Throwable t) {
        return t instanceof RefusedException r ? r.reason() : null;
    }

    @Test
    void identicalRepushSucceedsAndDifferentContentIsRefused() throws Exception {
        WalArchive archive = new WalArchive(repo());
        assertThat(archive.push(SEG, segment(SEG, 1), origin())).isEqualTo(WalArchive.PushResult.STORED);
        assertThat(archive.push(SEG, segment(SEG, 1), origin())).isEqualTo(WalArchive.PushResult.ALREADY_ARCHIVED);
        assertThatThrownBy(() -> archive.push(SEG, segment(SEG, 2), origin()))
                .isInstanceOf(RefusedException.class)
                .matches(e -> reasonOf(e) == RefusedException.Reason.DIFFERENT_CONTENT)
                .hasMessageContaining("different content")
                .hasMessageContaining(SEG)
                .hasMessageContaining("prod-host")
                .hasMessageContaining("/srv/prod");
        assertThat(archive.read(SEG)).hasValueSatisfying(b -> assertThat(b).isEqualTo(segment(SEG, 1)));
        assertThat(archive.read("000000010000000000000004")).isEmpty();
        assertThatThrownBy(() -> archive.push("not-a-wal-name", new byte[1], origin()))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void bytesThatAreNotTheNamedSegmentAreRefused() throws Exception {
        WalArchive archive = new WalArchive(repo());
        byte[] random = new byte[SEG_SIZE];
        new Random(3).nextBytes(random);
        random[2] = 0; // no XLP_LONG_HEADER
        assertThatThrownBy(() -> archive.push(SEG, random, origin()))
                .matches(e -> reasonOf(e) == RefusedException.Reason.NOT_WAL)
                .hasMessageContaining("long page header");
        assertThatThrownBy(() -> archive.push(SEG, segment("000000010000000000000004", 1), origin()))
                .matches(e -> reasonOf(e) == RefusedException.Reason.NOT_WAL)
                .hasMessageContaining("0/400000");
        assertThatThrownBy(() -> archive.push(SEG, Arrays.copyOf(segment(SEG, 1), SEG_SIZE / 2), origin()))
                .matches(e -> reasonOf(e) == RefusedException.Reason.NOT_WAL)
                .hasMessageContaining("truncated");
        assertThat(archive.list()).isEmpty();
    }

    @Test
    void anObjectCannotPassForAnotherSegmentOrBeAltered() throws Exception {
        WalArchive archive = new WalArchive(repo());
        archive.push(SEG, segment(SEG, 1), origin());
        Path stored = tmp.resolve("repo").resolve(WalArchive.key(SEG));
        Path other = tmp.resolve("repo").resolve(WalArchive.key("000000010000000000000004"));
        Files.copy(stored, other);
        assertThatThrownBy(() -> archive.read("000000010000000000000004"))
                .isInstanceOf(RepositoryException.Corrupt.class);
        byte[] b = Files.readAllBytes(stored);
        b[b.length / 2] ^= 1;
        Files.write(stored, b);
        assertThatThrownBy(() -> archive.read(SEG)).isInstanceOf(RepositoryException.Corrupt.class);
    }

    // ---------------------------------------------------------------- two pushers, one name

    /** One pusher's answer: its result or its error. */
    record Outcome(WalArchive.PushResult result, Throwable error, byte[] content) {}

    /**
     * Two pushers (each with its own repository handle, as two processes) push one name at the same instant, in
     * rounds alternating the same and different content. Where the server decides a conditional create atomically,
     * exactly one stores; otherwise (S3Mock) at least one does and the archive holds a winner's bytes.
     */
    private void race(BlobStore store, int rounds, boolean atomic) throws Exception {
        repo(store);
        for (int round = 0; round < rounds; round++) {
            String name = String.format("0000000100000000%08X", round + 1);
            boolean same = round % 2 == 0;
            byte[] a = segment(name, round);
            byte[] b = same ? a.clone() : segment(name, 10_000 + round);
            WalArchive pa = new WalArchive(reopen(store));
            WalArchive pb = new WalArchive(reopen(store));
            CyclicBarrier barrier = new CyclicBarrier(2);
            List<Outcome> outcomes = new ArrayList<>();
            try (ExecutorService pool = Executors.newFixedThreadPool(2)) {
                List<Future<Outcome>> fs = new ArrayList<>();
                for (Object[] p : List.of(new Object[] {pa, a}, new Object[] {pb, b})) {
                    fs.add(pool.submit(() -> {
                        barrier.await(10, TimeUnit.SECONDS);
                        try {
                            return new Outcome(
                                    ((WalArchive) p[0]).push(name, (byte[]) p[1], origin()), null, (byte[]) p[1]);
                        } catch (RefusedException e) {
                            return new Outcome(null, e, (byte[]) p[1]);
                        }
                    }));
                }
                for (Future<Outcome> f : fs) {
                    outcomes.add(f.get(60, TimeUnit.SECONDS));
                }
            }
            List<Outcome> stored = outcomes.stream()
                    .filter(o -> o.result() == WalArchive.PushResult.STORED)
                    .toList();
            byte[] archived = new WalArchive(reopen(store)).read(name).orElseThrow();
            String what = "round " + round + (same ? " (same content)" : " (different content)") + ": " + outcomes;
            if (same) {
                assertThat(outcomes).as(what).allMatch(o -> o.error() == null);
                assertThat(archived).isEqualTo(a);
            } else {
                assertThat(outcomes)
                        .as(what)
                        .allMatch(o ->
                                o.error() == null || reasonOf(o.error()) == RefusedException.Reason.DIFFERENT_CONTENT);
            }
            if (atomic) {
                assertThat(stored).as(what).hasSize(1);
                assertThat(archived).as(what).isEqualTo(stored.getFirst().content());
                if (!same) {
                    assertThat(outcomes)
                            .as(what)
                            .filteredOn(o -> o.error() != null)
                            .hasSize(1);
                }
            } else {
                assertThat(stored)
                        .as(what)
                        .isNotEmpty()
                        .anySatisfy(o -> assertThat(archived).isEqualTo(o.content()));
            }
        }
    }

    @Test
    void racingPushersCannotBothWin_localStore() throws Exception {
        race(new LocalBlobStore(tmp.resolve("repo")), 16, true);
    }

    /**
     * S3Mock 5.2 checks {@code If-None-Match: *} and then stores without a lock (see S3BlobStoreContractTest), so two
     * writers at the same instant can both get 200 there: this only checks what holds on such a server. The exact
     * outcome on S3 is checked with a fixed order in {@link
     * #aPusherThatDecidedBeforeAnotherWroteCannotOverwriteIt_s3Mock}.
     */
    @Test
    void racingPushersCannotBothWin_s3Mock() throws Exception {
        race(s3Store(), 6, false);
    }

    private static BlobStore s3Store() throws Exception {
        return new S3BlobStore(
                S3MockFixture.BUCKET,
                "wal-" + UUID.randomUUID() + "/repo",
                S3MockFixture.get().settings());
    }

    /**
     * Pusher B gets as far as writing the object, then waits (a gate in front of its store) while pusher A pushes the
     * same name to the end; then B writes. A read-then-put lets B overwrite A's object (both "stored"); a conditional
     * create leaves A's and tells B what it found.
     */
    private void fixedOrderRace(BlobStore store) throws Exception {
        repo(store);
        for (boolean same : List.of(true, false)) {
            String name = same ? "000000010000000000000005" : "000000010000000000000006";
            byte[] a = segment(name, 1);
            byte[] b = same ? a.clone() : segment(name, 2);
            GatedStore gated = new GatedStore(store);
            WalArchive pa = new WalArchive(reopen(store));
            WalArchive pb = new WalArchive(reopen(gated));
            try (ExecutorService pool = Executors.newSingleThreadExecutor()) {
                Future<Outcome> fb = pool.submit(() -> {
                    try {
                        return new Outcome(pb.push(name, b, origin()), null, b);
                    } catch (RefusedException e) {
                        return new Outcome(null, e, b);
                    }
                });
                assertThat(gated.arrived.await(30, TimeUnit.SECONDS))
                        .as("pusher B reached its write")
                        .isTrue();
                assertThat(pa.push(name, a, origin())).isEqualTo(WalArchive.PushResult.STORED);
                gated.open.countDown();
                Outcome ob = fb.get(60, TimeUnit.SECONDS);
                if (same) {
                    assertThat(ob.result()).as("B: %s", ob).isEqualTo(WalArchive.PushResult.ALREADY_ARCHIVED);
                } else {
                    assertThat(reasonOf(ob.error()))
                            .as("B: %s", ob)
                            .isEqualTo(RefusedException.Reason.DIFFERENT_CONTENT);
                }
            }
            assertThat(new WalArchive(reopen(store)).read(name))
                    .hasValueSatisfying(x -> assertThat(x).isEqualTo(a));
        }
    }

    @Test
    void aPusherThatDecidedBeforeAnotherWroteCannotOverwriteIt_localStore() throws Exception {
        fixedOrderRace(new LocalBlobStore(tmp.resolve("repo")));
    }

    @Test
    void aPusherThatDecidedBeforeAnotherWroteCannotOverwriteIt_s3Mock() throws Exception {
        fixedOrderRace(s3Store());
    }

    /** A store whose first write under {@code wal/} waits until {@link #open} is released (it counts {@link #arrived}
     * first). */
    static final class GatedStore implements BlobStore {
        final BlobStore d;
        final CountDownLatch arrived = new CountDownLatch(1);
        final CountDownLatch open = new CountDownLatch(1);

        GatedStore(BlobStore d) {
            this.d = d;
        }

        private void gate(String key) throws IOException {
            if (key.startsWith(WalArchive.PREFIX)) {
                arrived.countDown();
                try {
                    if (!open.await(60, TimeUnit.SECONDS)) {
                        throw new IOException("gate never opened");
                    }
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
            }
        }

        @Override
        public void put(String key, byte[] data, int offset, int length) throws IOException {
            gate(key);
            d.put(key, data, offset, length);
        }

        @Override
        public boolean putIfAbsent(String key, byte[] data) throws IOException {
            gate(key);
            return d.putIfAbsent(key, data);
        }

        @Override
        public boolean holdsExactly(String key, byte[] data) throws IOException {
            return d.holdsExactly(key, data);
        }

        @Override
        public byte[] get(String key) throws IOException {
            return d.get(key);
        }

        @Override
        public byte[] getRange(String key, long offset, int length) throws IOException {
            return d.getRange(key, offset, length);
        }

        @Override
        public InputStream open(String key) throws IOException {
            return d.open(key);
        }

        @Override
        public Optional<BlobInfo> stat(String key) throws IOException {
            return d.stat(key);
        }

        @Override
        public List<BlobInfo> list(String prefix) throws IOException {
            return d.list(prefix);
        }

        @Override
        public void delete(String key) throws IOException {
            d.delete(key);
        }

        @Override
        public String uri() {
            return d.uri();
        }
    }

    // ---------------------------------------------------------------- partials

    @Test
    void aPartialMayOnlyGrow() throws Exception {
        WalArchive archive = new WalArchive(repo());
        String part = SEG + ".partial";
        byte[] p100 = wal(part, SYSID, 5, 100_000);
        byte[] p200 = wal(part, SYSID, 5, 200_000);
        byte[] p300 = wal(part, SYSID, 5, 300_000);
        assertThat(Arrays.equals(p200, 0, 100_000, p100, 0, 100_000))
                .as("same seed, same prefix")
                .isTrue();
        assertThat(archive.push(part, p100, origin())).isEqualTo(WalArchive.PushResult.STORED);
        assertThat(archive.push(part, p200, origin())).as("it grew").isEqualTo(WalArchive.PushResult.STORED);
        assertThat(archive.push(part, p100, origin()))
                .as("a shorter version")
                .isEqualTo(WalArchive.PushResult.ALREADY_ARCHIVED);
        assertThat(archive.read(part)).hasValueSatisfying(b -> assertThat(b).isEqualTo(p200));
        byte[] other = wal(part, SYSID, 6, 250_000);
        assertThatThrownBy(() -> archive.push(part, other, origin()))
                .matches(e -> reasonOf(e) == RefusedException.Reason.DIFFERENT_CONTENT)
                .hasMessageContaining("neither extends the other")
                .hasMessageContaining(part);
        assertThatThrownBy(() -> archive.pushPartial(part, other, origin(), false))
                .matches(e -> reasonOf(e) == RefusedException.Reason.DIFFERENT_CONTENT);
        assertThat(archive.read(part)).hasValueSatisfying(b -> assertThat(b).isEqualTo(p200));
        // the receiver: checked once, then it extends its own writes without reading them back
        assertThat(archive.pushPartial(part, p300, origin(), false)).isEqualTo(WalArchive.PushResult.STORED);
        byte[] p400 = wal(part, SYSID, 5, 400_000);
        assertThat(archive.pushPartial(part, p400, origin(), true)).isEqualTo(WalArchive.PushResult.STORED);
        assertThat(archive.read(part)).hasValueSatisfying(b -> assertThat(b).isEqualTo(p400));
    }

    /** {@code 0000000N.history} saying timeline {@code parent} was left at {@code lsn}. */
    private static byte[] history(int parent, long lsn) {
        return String.format("%d\t%X/%X\tno recovery target specified\n", parent, lsn >>> 32, lsn & 0xffffffffL)
                .getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * PostgreSQL archives {@code <segment>.partial} of the timeline a promoted server left: the whole segment file,
     * WAL up to the switch point (in the new timeline's history file) and old bytes after it. The streamed partial
     * holds
     * exactly the WAL received, which may run past the switch point. Whichever comes first, the archive ends up with
     * the
     * version that holds the most of the timeline's WAL.
     */
    @Test
    void aPromotionsPartialAndTheStreamedPartialKeepTheMostWal() throws Exception {
        String part = "000000010000000000000005.partial";
        int cut = 300_000;
        byte[] streamed = wal(part, SYSID, 9, 500_000);
        byte[] promoted =
                concat(Arrays.copyOf(streamed, cut), Arrays.copyOfRange(wal(part, SYSID, 77, SEG_SIZE), cut, SEG_SIZE));
        byte[] tl2 = history(1, 5L * SEG_SIZE + cut);

        // the receiver's partial first, then the promotion's: the streamed one stays
        WalArchive a = new WalArchive(repo(new LocalBlobStore(tmp.resolve("a"))));
        a.push("00000002.history", tl2, origin());
        assertThat(a.pushPartial(part, streamed, origin(), false)).isEqualTo(WalArchive.PushResult.STORED);
        assertThat(a.push(part, promoted, origin())).isEqualTo(WalArchive.PushResult.ALREADY_ARCHIVED);
        assertThat(a.read(part)).hasValueSatisfying(b -> assertThat(b).isEqualTo(streamed));

        // the promotion's first, then the receiver's (starting on the segment): the streamed one replaces it
        WalArchive b = new WalArchive(repo(new LocalBlobStore(tmp.resolve("b"))));
        b.push("00000002.history", tl2, origin());
        assertThat(b.push(part, promoted, origin())).isEqualTo(WalArchive.PushResult.STORED);
        assertThat(b.pushPartial(part, streamed, origin(), false)).isEqualTo(WalArchive.PushResult.STORED);
        assertThat(b.read(part)).hasValueSatisfying(x -> assertThat(x).isEqualTo(streamed));

        // a streamed partial that ends before the switch point is a prefix of the promotion's: that one grows it
        WalArchive c = new WalArchive(repo(new LocalBlobStore(tmp.resolve("c"))));
        c.push("00000002.history", tl2, origin());
        c.pushPartial(part, Arrays.copyOf(streamed, 200_000), origin(), false);
        assertThat(c.push(part, promoted, origin())).isEqualTo(WalArchive.PushResult.STORED);
        assertThat(c.read(part)).hasValueSatisfying(x -> assertThat(x).isEqualTo(promoted));

        // different WAL before the switch point is another history: refused
        byte[] diverged = promoted.clone();
        diverged[cut - 100] ^= 1;
        assertThatThrownBy(() -> a.push(part, diverged, origin()))
                .matches(e -> reasonOf(e) == RefusedException.Reason.DIFFERENT_CONTENT);
        // without a history file naming the switch point nothing tells junk from WAL: refused
        WalArchive d = new WalArchive(repo(new LocalBlobStore(tmp.resolve("d"))));
        d.pushPartial(part, streamed, origin(), false);
        assertThatThrownBy(() -> d.push(part, promoted, origin()))
                .matches(e -> reasonOf(e) == RefusedException.Reason.DIFFERENT_CONTENT);
    }

    // ---------------------------------------------------------------- whose WAL

    @Test
    void walOfAnotherSystemIsRefusedAndNamed() throws Exception {
        Repository repo = repo();
        WalArchive archive = new WalArchive(repo);
        archive.push(SEG, segment(SEG, 1), origin());
        assertThat(RepositoryBinding.read(repo.store())).hasValueSatisfying(b -> {
            assertThat(b.systemId()).isEqualTo(SYSID);
            assertThat(b.host()).isEqualTo("prod-host");
            assertThat(b.pgdata()).isEqualTo("/srv/prod");
        });
        String next = "000000010000000000000004";
        // another cluster, in a fresh process
        WalArchive fresh = new WalArchive(reopen(repo.store()));
        assertThatThrownBy(() -> fresh.push(next, wal(next, OTHER_SYSID, 1, SEG_SIZE), otherCluster()))
                .matches(e -> reasonOf(e) == RefusedException.Reason.OTHER_SYSTEM)
                .hasMessageContaining(Long.toUnsignedString(SYSID))
                .hasMessageContaining(Long.toUnsignedString(OTHER_SYSID))
                .hasMessageContaining("other-host")
                .hasMessageContaining("/srv/other")
                .hasMessageContaining("own repository")
                .hasMessageContaining("cannot archive " + next + " (timeline 1)");
        assertThatThrownBy(() -> fresh.push("00000002.history", history(1, 0x4000000L), otherCluster()))
                .matches(e -> reasonOf(e) == RefusedException.Reason.OTHER_SYSTEM);
        // a file whose page header names another system than the pusher's pg_control
        assertThatThrownBy(() -> fresh.push(next, wal(next, OTHER_SYSID, 1, SEG_SIZE), origin()))
                .matches(e -> reasonOf(e) == RefusedException.Reason.OTHER_SYSTEM)
                .hasMessageContaining("page header");
        assertThat(archive.list()).containsExactly(SEG);
        // the API backups use
        assertThat(RepositoryBinding.requireOrBind(repo, SYSID, "backup of PGDATA /srv/prod")
                        .systemId())
                .isEqualTo(SYSID);
        assertThatThrownBy(() -> RepositoryBinding.requireOrBind(repo, OTHER_SYSID, "backup of PGDATA /srv/other"))
                .matches(e -> reasonOf(e) == RefusedException.Reason.OTHER_SYSTEM)
                .hasMessageContaining("backup of PGDATA /srv/other");
    }

    @Test
    void anUnboundRepositoryWithBackupsIsBoundOnlyToTheirSystem() throws Exception {
        Repository repo = repo();
        Instant t = Instant.parse("2026-01-01T00:00:00Z");
        repo.saveSnapshot(new Snapshot(
                "20260101T000000Z",
                "full",
                "postgresql",
                null,
                t,
                t.plusSeconds(5),
                "prod-host",
                "/srv/prod",
                "zstd",
                PostgresBackupInfo.fromLegacy(Map.of("systemIdentifier", Long.toUnsignedString(SYSID))),
                List.of(),
                List.of(),
                null));
        assertThatThrownBy(() -> RepositoryBinding.requireOrBind(repo, OTHER_SYSID, "backup of PGDATA /srv/other"))
                .matches(e -> reasonOf(e) == RefusedException.Reason.OTHER_SYSTEM)
                .hasMessageContaining("20260101T000000Z");
        assertThat(RepositoryBinding.read(repo.store())).isEmpty();
        assertThat(RepositoryBinding.requireOrBind(repo, SYSID, "backup of PGDATA /srv/prod")
                        .boundBy())
                .isEqualTo("backup of PGDATA /srv/prod");
        assertThat(RepositoryBinding.read(repo.store())).isPresent();
    }

    @Test
    void aTimelineBelongsToTheClusterThatArchivedItFirst() throws Exception {
        Repository repo = repo();
        WalArchive prod = new WalArchive(repo);
        prod.push(SEG, segment(SEG, 1), origin());
        // a restored copy: same system, its own cluster id, pushing onto production's timeline (a fresh process)
        WalArchive copy = new WalArchive(reopen(repo.store()));
        String next = "000000010000000000000004";
        assertThatThrownBy(() -> copy.push(next, segment(next, 2), copy("c-1")))
                .matches(e -> reasonOf(e) == RefusedException.Reason.OTHER_TIMELINE_OWNER)
                .hasMessageContaining("timeline 1 of " + repo.uri() + " is archived by the original cluster")
                .hasMessageContaining("prod-host")
                .hasMessageContaining("cluster id c-1")
                .hasMessageContaining("copy-host")
                .hasMessageContaining("/srv/copy")
                .hasMessageContaining(next)
                .hasMessageContaining("two clusters are writing one timeline");
        assertThatThrownBy(() -> copy.push(next + ".partial", wal(next, SYSID, 2, 4096), copy("c-1")))
                .matches(e -> reasonOf(e) == RefusedException.Reason.OTHER_TIMELINE_OWNER);
        assertThat(prod.exists(next)).isFalse();
        assertThat(prod.push(next, segment(next, 3), origin()))
                .as("production keeps archiving")
                .isEqualTo(WalArchive.PushResult.STORED);
        // its own timeline is the copy's
        String tl2 = "000000020000000000000004";
        assertThat(copy.push("00000002.history", history(1, 0x3100000L), copy("c-1")))
                .isEqualTo(WalArchive.PushResult.STORED);
        assertThat(copy.push(tl2, segment(tl2, 4), copy("c-1"))).isEqualTo(WalArchive.PushResult.STORED);
        assertThatThrownBy(
                        () -> prod.push("000000020000000000000005", segment("000000020000000000000005", 5), origin()))
                .matches(e -> reasonOf(e) == RefusedException.Reason.OTHER_TIMELINE_OWNER);

        Map<Integer, TimelineOwners.Owner> owners = new WalArchive(reopen(repo.store())).timelineOwners();
        assertThat(owners.keySet()).containsExactly(1, 2);
        assertThat(owners.get(1).clusterId()).isEqualTo("origin");
        assertThat(owners.get(1).isOrigin()).isTrue();
        assertThat(owners.get(1).firstFile()).isEqualTo(SEG);
        assertThat(owners.get(2).clusterId()).isEqualTo("c-1");
        assertThat(owners.get(2).restoredFrom()).isEqualTo("B1");
        assertThat(owners.get(2).pgdata()).isEqualTo("/srv/copy");
        assertThat(repo.store().list(TimelineOwners.PREFIX))
                .extracting(BlobInfo::key)
                .containsExactly("timelines/00000001", "timelines/00000002");
    }

    /**
     * When the copy promotes from timeline 1 to 2, PostgreSQL archives its last timeline-1 segment as a partial. If the
     * archive already holds that timeline's WAL up to the switch point (named in the copy's history file), there is
     * nothing to add: accepted without writing, so the copy's archiver is not stuck on it. Anything else is refused.
     */
    @Test
    void aCopysPromotionPartialOfTheOriginalsTimelineAddsNothing() throws Exception {
        Repository repo = repo();
        WalArchive prod = new WalArchive(repo);
        prod.push(SEG, segment(SEG, 1), origin());
        WalArchive copy = new WalArchive(reopen(repo.store()));
        int cut = 400_000;
        byte[] promoted = concat(Arrays.copyOf(segment(SEG, 1), cut), new byte[SEG_SIZE - cut]);
        assertThatThrownBy(() -> copy.push(SEG + ".partial", promoted, copy("c-1")))
                .as("no history names the switch point yet")
                .matches(e -> reasonOf(e) == RefusedException.Reason.OTHER_TIMELINE_OWNER);
        copy.push("00000002.history", history(1, 3L * SEG_SIZE + cut), copy("c-1"));
        assertThat(copy.push(SEG + ".partial", promoted, copy("c-1")))
                .isEqualTo(WalArchive.PushResult.ALREADY_ARCHIVED);
        assertThat(prod.exists(SEG + ".partial")).isFalse();
        byte[] diverged = promoted.clone();
        diverged[cut - 1] ^= 1;
        assertThatThrownBy(() -> copy.push(SEG + ".partial", diverged, copy("c-1")))
                .matches(e -> reasonOf(e) == RefusedException.Reason.OTHER_TIMELINE_OWNER);
    }

    // ---------------------------------------------------------------- wal-get

    @Test
    void walGetServesAPartialOnlyForTheSegmentNamedWithPartial() throws Exception {
        WalArchive archive = new WalArchive(repo());
        String uri = "file://" + tmp.resolve("repo");
        String key = tmp.resolve("key").toString();
        String seg4 = "000000010000000000000004";
        archive.push(SEG, segment(SEG, 7), origin());
        byte[] part = wal(seg4, SYSID, 8, 123_456);
        archive.pushPartial(seg4 + ".partial", part, origin(), false);
        Path dest = tmp.resolve("RECOVERYXLOG");

        assertThat(PgTestSupport.cli("wal-get", "--repo", uri, "--key-file", key, SEG, dest.toString())
                        .exitCode())
                .isZero();
        assertThat(Files.readAllBytes(dest)).isEqualTo(segment(SEG, 7));
        PgTestSupport.CliResult unasked =
                PgTestSupport.cli("wal-get", "--repo", uri, "--key-file", key, seg4, dest.toString());
        assertThat(unasked.exitCode())
                .as("a missing segment is exit 1 even with its .partial archived: " + unasked.all())
                .isEqualTo(1);
        PgTestSupport.CliResult otherAsked = PgTestSupport.cli(
                "wal-get",
                "--repo",
                uri,
                "--key-file",
                key,
                "--partial",
                "000000010000000000000009",
                seg4,
                dest.toString());
        assertThat(otherAsked.exitCode()).as(otherAsked.all()).isEqualTo(1);
        PgTestSupport.CliResult asked = PgTestSupport.cli(
                "wal-get", "--repo", uri, "--key-file", key, "--partial", seg4, seg4, dest.toString());
        assertThat(asked.exitCode()).as(asked.all()).isZero();
        assertThat(asked.err()).contains("serving " + seg4 + ".partial (123456 bytes");
        byte[] got = Files.readAllBytes(dest);
        assertThat(got).hasSize(SEG_SIZE);
        assertThat(Arrays.copyOf(got, part.length)).isEqualTo(part);
        assertThat(Arrays.copyOfRange(got, part.length, SEG_SIZE)).containsOnly((byte) 0);
        // a complete segment wins over its partial
        PgTestSupport.CliResult whole =
                PgTestSupport.cli("wal-get", "--repo", uri, "--key-file", key, "--partial", SEG, SEG, dest.toString());
        assertThat(whole.exitCode()).isZero();
        assertThat(whole.err()).doesNotContain("serving");
        assertThat(Files.readAllBytes(dest)).isEqualTo(segment(SEG, 7));
        assertThat(PgTestSupport.cli(
                                "wal-get",
                                "--repo",
                                uri,
                                "--key-file",
                                key,
                                "000000010000000000000009",
                                dest.toString())
                        .exitCode())
                .as("a segment not in the archive is exit 1, as restore_command expects")
                .isEqualTo(1);
    }
}
