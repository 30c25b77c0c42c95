package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.ChunkId;
import dev.lifeboat.repository.ChunkRefs;
import dev.lifeboat.repository.PackedChunk;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Json;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * verify and verify --read-data on real repositories with real WAL: a cluster archives through
 * archive_command = 'lifeboat wal-push' into an encrypted and an unencrypted repository, each holding a full and an
 * incremental backup. Clean repositories verify clean; each kind of damage is named by backup and file, or by
 * timeline and WAL file.
 */
class VerifyWalTest {
    @TempDir
    static Path tmp;

    static LocalCluster pg;
    static Path keyFile;
    static String encUri;
    static String plainUri;
    static Repository enc;
    static Repository plain;

    @BeforeAll
    static void setUp() throws Exception {
        Path launcher = TestLauncher.install();
        keyFile = PgTestSupport.keyFile(tmp);
        TestLauncher.shareWithPostgres(keyFile);
        encUri = PgTestSupport.repoUri(tmp.resolve("enc"));
        plainUri = PgTestSupport.repoUri(tmp.resolve("plain"));
        assertThat(cli("repo-init", "--repo", encUri, "--key-file", keyFile.toString())
                        .exitCode())
                .isZero();
        assertThat(cli("repo-init", "--repo", plainUri, "--no-encryption").exitCode())
                .isZero();
        for (String r : List.of("enc", "plain")) {
            TestLauncher.shareWithPostgres(tmp.resolve(r));
            PitrTest.runAsRoot(List.of("chown", "-R", "postgres", tmp.resolve(r).toString()));
        }
        pg = LocalCluster.create(
                tmp.resolve("pg"),
                List.of(
                        "archive_mode = on",
                        "archive_command = '" + launcher + " wal-push --repo " + encUri + " --key-file " + keyFile
                                + " %p && " + launcher + " wal-push --repo " + plainUri + " %p'"));
        pg.start();
        enc = Repository.open(new LocalBlobStore(tmp.resolve("enc")), KeySource.KeyFile.read(keyFile));
        plain = Repository.open(new LocalBlobStore(tmp.resolve("plain")), null);
        exec(
                pg,
                "create table t (id int primary key, v text)",
                "insert into t select g, md5(g::text) from generate_series(1, 50000) g");
        backup("full");
        for (int i = 0; i < 4; i++) {
            exec(pg, "update t set v = 'changed " + i + "' where id % 997 = " + i, "select pg_switch_wal()");
        }
        backup("incr"); // changed pages become page deltas against the full backup
        exec(
                pg,
                "insert into t select g, 'late' from generate_series(50001, 60000) g",
                "select pg_switch_wal()",
                "insert into t values (60001, 'last')",
                "select pg_switch_wal()");
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement()) {
            String last = PitrTest.one(st, "select pg_walfile_name(pg_current_wal_lsn() - 1)");
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (System.nanoTime() < deadline) {
                String archived = PitrTest.one(st, "select coalesce(last_archived_wal, '') from pg_stat_archiver");
                if (!archived.isEmpty() && archived.compareTo(last) >= 0) {
                    break;
                }
                Thread.sleep(200);
            }
            assertThat(PitrTest.one(st, "select failed_count::text from pg_stat_archiver"))
                    .isEqualTo("0");
        }
    }

    static void backup(String type) throws Exception {
        for (Repository r : List.of(enc, plain)) {
            new PgBackup(
                            r,
                            new PgBackupOptions(pg.dataDir(), null, null, "postgres", type, Compression.LOW, 2),
                            null,
                            new Cancellation())
                    .run();
        }
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (pg != null) {
            pg.close();
        }
    }

    static JsonNode verify(String uri, boolean readData, int expectedExit) throws Exception {
        List<String> args = new ArrayList<>(List.of("verify", "--repo", uri, "--json", "-q"));
        if (uri.equals(encUri)) {
            args.addAll(List.of("--key-file", keyFile.toString()));
        }
        if (readData) {
            args.add("--read-data");
        }
        CliResult r = cli(args.toArray(String[]::new));
        assertThat(r.exitCode()).as(r.all()).isEqualTo(expectedExit);
        return Json.MAPPER.readTree(r.out()).path("report");
    }

    static List<JsonNode> problems(JsonNode report) {
        List<JsonNode> out = new ArrayList<>();
        report.path("problems").forEach(out::add);
        return out;
    }

    /** Archived segments of timeline 1, oldest first. */
    static List<String> segments(Repository r) throws Exception {
        return new WalArchive(r).list().stream().filter(WalArchive::isSegment).toList();
    }

    @Test
    void cleanRepositoriesVerifyCleanWithEveryWalFileReadAndEveryRecordChecked() throws Exception {
        for (Repository r : List.of(enc, plain)) {
            String uri = r == enc ? encUri : plainUri;
            JsonNode structure = verify(uri, false, 0);
            assertThat(structure.path("wal").path("segments").asInt())
                    .isEqualTo(segments(r).size())
                    .isGreaterThanOrEqualTo(6);
            JsonNode rep = verify(uri, true, 0);
            assertThat(problems(rep)).as(uri).isEmpty();
            JsonNode wal = rep.path("wal");
            assertThat(wal.path("timelines").toString()).isEqualTo("[1]");
            assertThat(wal.path("filesRead").asInt())
                    .as("segments, .backup files")
                    .isEqualTo(new WalArchive(r).list().size());
            assertThat(wal.path("segmentsRecordsChecked").asInt())
                    .isEqualTo(segments(r).size());
            assertThat(rep.path("filesDigested").asLong())
                    .isEqualTo(rep.path("files").asLong())
                    .isPositive();
            assertThat(rep.path("deltaBlocks").asLong())
                    .as("the incremental stored page deltas")
                    .isPositive();
        }
    }

    @Test
    void aSegmentDeletedFromTheMiddleOfTheArchiveIsAGap() throws Exception {
        List<String> segs = segments(enc);
        String victim = segs.get(segs.size() - 3);
        byte[] saved = enc.store().get(WalArchive.key(victim));
        enc.store().delete(WalArchive.key(victim));
        try {
            JsonNode rep = verify(encUri, false, 3);
            assertThat(problems(rep)).singleElement().satisfies(p -> {
                assertThat(p.path("timeline").asInt()).isEqualTo(1);
                assertThat(p.path("file").asText()).isEqualTo(victim);
                assertThat(p.path("detail").asText())
                        .contains("segment " + victim + " is missing from the WAL archive");
            });
        } finally {
            enc.store().put(WalArchive.key(victim), saved);
        }
        assertThat(problems(verify(encUri, false, 0))).isEmpty();
    }

    @Test
    void aWalObjectHoldingAnotherSegmentsSealedBytesIsReported() throws Exception {
        for (Repository r : List.of(enc, plain)) {
            String uri = r == enc ? encUri : plainUri;
            List<String> segs = segments(r);
            String victim = segs.get(segs.size() - 4);
            String other = segs.get(segs.size() - 2);
            byte[] saved = r.store().get(WalArchive.key(victim));
            r.store().put(WalArchive.key(victim), r.store().get(WalArchive.key(other)));
            try {
                JsonNode rep = verify(uri, true, 3);
                // the name is the associated data: encrypted, it fails authentication; unencrypted (format 2), the
                // checksum over name and content (the page-header check below catches it in format 1)
                String expected = r == enc ? "failed authentication" : "failed its integrity check";
                assertThat(problems(rep)).as(uri).anySatisfy(p -> {
                    assertThat(p.path("timeline").asInt()).isEqualTo(1);
                    assertThat(p.path("file").asText()).isEqualTo(victim);
                    assertThat(p.path("detail").asText()).contains(expected);
                });
                assertThat(problems(rep))
                        .as(uri)
                        .allSatisfy(p -> assertThat(p.toString()).contains(victim));
            } finally {
                r.store().put(WalArchive.key(victim), saved);
            }
        }
    }

    @Test
    void aTimelineWithoutItsHistoryFileIsReportedAndIsCleanOnceTheFileIsArchived() throws Exception {
        WalArchive archive = new WalArchive(enc);
        List<String> segs = segments(enc);
        String source = segs.getLast();
        // the first segment of a timeline 2 begins with its parent's pages, as PostgreSQL copies them at the switch
        String onTimeline2 = "00000002" + source.substring(8);
        byte[] wal = archive.read(source).orElseThrow();
        // stored as the archive stores WAL (WalArchive.push would refuse a segment of a timeline without an owner
        // claim by this cluster): this test is about what verify sees
        enc.store().put(WalArchive.key(onTimeline2), sealedWal(enc, onTimeline2, wal));
        try {
            JsonNode rep = verify(encUri, false, 3);
            assertThat(problems(rep)).singleElement().satisfies(p -> {
                assertThat(p.path("timeline").asInt()).isEqualTo(2);
                assertThat(p.path("file").asText()).isEqualTo("00000002.history");
                assertThat(p.path("detail").asText()).contains("history file is not archived");
            });
            long switchLsn = WalArchive.segmentNumber(source, 16L << 20) * (16L << 20) + (16L << 20) - 1;
            enc.store()
                    .put(
                            WalArchive.key("00000002.history"),
                            sealedWal(
                                    enc,
                                    "00000002.history",
                                    ("1\t" + Lsn.format(switchLsn) + "\tno recovery target specified\n")
                                            .getBytes(StandardCharsets.US_ASCII)));
            JsonNode clean = verify(encUri, true, 0);
            assertThat(clean.path("wal").path("timelines").toString()).isEqualTo("[1,2]");
            assertThat(clean.path("wal").path("historyFiles").asInt()).isEqualTo(1);
        } finally {
            archive.delete(onTimeline2);
            archive.delete("00000002.history");
        }
    }

    @Test
    void theStreamingReceiversPartialSegmentEndsTheWalWithoutAProblem() throws Exception {
        WalArchive archive = new WalArchive(plain);
        List<String> segs = segments(plain);
        String newest = segs.getLast();
        String dense = segs.get(segs.size() - 2); // holds the 10000-row insert: records run across every page
        byte[] savedNewest = plain.store().get(WalArchive.key(newest));
        byte[] savedDense = plain.store().get(WalArchive.key(dense));
        byte[] wal = archive.read(dense).orElseThrow();
        // what the receiver holds of a segment it is still filling: the first pages, cut inside a record
        plain.store()
                .put(
                        WalArchive.key(dense + ".partial"),
                        sealedWal(plain, dense + ".partial", Arrays.copyOf(wal, 5 * 8192 + 1000)));
        archive.delete(newest);
        archive.delete(dense);
        try {
            JsonNode rep = verify(plainUri, true, 0);
            assertThat(problems(rep)).isEmpty();
            assertThat(rep.path("wal").path("partials").asInt()).isEqualTo(1);
            assertThat(rep.path("wal").path("segmentsRecordsChecked").asInt())
                    .isEqualTo(segments(plain).size() + 1);

            // the same bytes as a complete segment are a truncated segment
            plain.store().put(WalArchive.key(dense), sealedWal(plain, dense, Arrays.copyOf(wal, 5 * 8192 + 1000)));
            assertThat(problems(verify(plainUri, true, 3))).anySatisfy(p -> {
                assertThat(p.path("file").asText()).isEqualTo(dense);
                assertThat(p.path("detail").asText()).contains("bytes long");
            });

            // and with the complete segments back, the partial is still read and authenticated
            plain.store().put(WalArchive.key(dense), savedDense);
            plain.store().put(WalArchive.key(newest), savedNewest);
            JsonNode both = verify(plainUri, true, 0);
            assertThat(both.path("wal").path("filesRead").asInt())
                    .isEqualTo(archive.list().size());
        } finally {
            archive.delete(dense + ".partial");
            plain.store().put(WalArchive.key(dense), savedDense);
            plain.store().put(WalArchive.key(newest), savedNewest);
        }
    }

    /** {@code content} stored as the archive stores WAL file {@code name} (zstd, sealed with the name as associated
     * data). */
    private static byte[] sealedWal(Repository r, String name, byte[] content) {
        return r.sealMetadata(
                Compression.zstd(content, 1), ("lifeboat-wal:" + name).getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    void aWalRecordWhoseCrcFailsIsReportedByItsSegment() throws Exception {
        List<String> segs = segments(plain);
        String victim = segs.get(segs.size() - 5);
        byte[] saved = plain.store().get(WalArchive.key(victim));
        byte[] wal = new WalArchive(plain).read(victim).orElseThrow();
        // a byte in the middle of the first page's records (past the long page header), headers untouched, stored
        // as a well-formed object of that name: only the records themselves tell
        wal[4000] ^= 0x40;
        plain.store().put(WalArchive.key(victim), sealedWal(plain, victim, wal));
        try {
            JsonNode rep = verify(plainUri, true, 3);
            assertThat(problems(rep)).singleElement().satisfies(p -> {
                assertThat(p.path("file").asText()).isEqualTo(victim);
                assertThat(p.path("detail").asText())
                        .contains("WAL records are damaged")
                        .contains("recovery stops here");
            });
        } finally {
            plain.store().put(WalArchive.key(victim), saved);
        }
    }

    @Test
    void aManifestWhoseFileDigestWasAlteredIsReportedByReadData() throws Exception {
        String id = enc.listSnapshotIds().getFirst();
        byte[] saved = enc.store().get(Repository.SNAPSHOTS + id);
        Snapshot s = enc.loadSnapshot(id);
        Snapshot.FileEntry victim = s.files().stream()
                .filter(f -> f.kind() == Snapshot.Kind.FILE
                        && f.size() > 8192
                        && f.path().startsWith("base/"))
                .findFirst()
                .orElseThrow();
        List<Snapshot.FileEntry> files = s.files().stream()
                .map(f -> f != victim
                        ? f
                        : new Snapshot.FileEntry(
                                f.path(),
                                f.kind(),
                                f.mode(),
                                f.owner(),
                                f.group(),
                                f.mtimeMillis(),
                                f.size(),
                                "0".repeat(64),
                                f.chunks(),
                                f.target()))
                .toList();
        enc.saveSnapshot(new Snapshot(
                s.id(),
                s.type(),
                s.engine(),
                s.parent(),
                s.startTime(),
                s.stopTime(),
                s.host(),
                s.sourceDirectory(),
                s.compression(),
                s.engineInfo(),
                s.tablespaces(),
                files,
                s.stats()));
        try {
            assertThat(problems(verify(encUri, false, 0)))
                    .as("the structure alone is fine")
                    .isEmpty();
            JsonNode rep = verify(encUri, true, 3);
            assertThat(problems(rep)).singleElement().satisfies(p -> {
                assertThat(p.path("backup").asText()).isEqualTo(id);
                assertThat(p.path("file").asText()).isEqualTo(victim.path());
                assertThat(p.path("detail").asText()).contains("does not describe the data a restore writes");
            });
        } finally {
            enc.store().put(Repository.SNAPSHOTS + id, saved);
        }
    }

    @Test
    void aFlippedByteInsideAChunkOfAnUnencryptedRepositoryIsReported() throws Exception {
        String id = plain.listSnapshotIds().getFirst();
        Snapshot.FileEntry victim = plain.loadSnapshot(id).files().stream()
                .filter(f -> f.kind() == Snapshot.Kind.FILE && f.path().startsWith("base/") && f.size() > 8192)
                .findFirst()
                .orElseThrow();
        PackedChunk c = plain.loadIndex().get(ChunkRefs.base(victim.chunks().getFirst()));
        String key = "data/" + c.packId().substring(0, 2) + "/" + c.packId();
        byte[] saved = plain.store().get(key);
        byte[] damaged = saved.clone();
        damaged[(int) (c.offset() + c.length() / 2)] ^= 0x01;
        plain.store().put(key, damaged);
        try {
            JsonNode rep = verify(plainUri, true, 3);
            assertThat(problems(rep)).anySatisfy(p -> {
                assertThat(p.path("backup").asText()).isEqualTo(id);
                assertThat(p.path("file").asText()).isEqualTo(victim.path());
                assertThat(p.path("detail").asText())
                        .contains(ChunkId.parse(c.id().hex()).toString());
            });
        } finally {
            plain.store().put(key, saved);
        }
    }

    static String one(Statement st, String sql) throws Exception {
        try (ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
