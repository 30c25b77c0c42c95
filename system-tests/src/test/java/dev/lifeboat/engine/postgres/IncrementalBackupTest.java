package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.count;
import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.ChunkId;
import dev.lifeboat.repository.ChunkRefs;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.Verifier;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Incremental backups store little when little changed, and every one restores on its own. */
class IncrementalBackupTest {
    @TempDir
    Path tmp;

    @Test
    void incrementalAfterAboutOnePercentOfPagesChangedStoresAtMostThreePercent() throws Exception {
        try (LocalCluster pg = LocalCluster.create(tmp.resolve("pg"), List.of())) {
            pg.start();
            pg.pgbench(List.of("-i", "-s", "20", "-q"), Duration.ofMinutes(5));
            exec(pg, "checkpoint");
            Repository repo = newRepo();
            Snapshot full = backup(repo, pg, "full");
            Map<String, String> fingerprints = new HashMap<>();
            Map<String, Long> before = pageChecksums(pg.dataDir());

            // change about 1% of the pages (pgbench updates random accounts, tellers and branches and appends history)
            pg.pgbench(List.of("-n", "-t", "260", "-c", "1"), Duration.ofMinutes(5));
            exec(pg, "checkpoint");
            Map<String, Long> after = pageChecksums(pg.dataDir());
            long changed = after.entrySet().stream()
                    .filter(e -> !e.getValue().equals(before.get(e.getKey())))
                    .count();
            double changedShare = (double) changed / after.size();
            Thread.sleep(2100); // files untouched since before the incremental's parent are taken over unread
            Snapshot incr = backup(repo, pg, "incr");
            fingerprints.put(incr.id(), fingerprint(pg));

            // everything each backup added to the repository: packs, index files and its manifest
            double storedShare = (double) added(repo, incr) / added(repo, full);
            System.out.printf(
                    "pages changed: %d of %d (%.2f%%); full stored %d bytes, incremental %d bytes (%.2f%%), read %d of "
                            + "%d%n",
                    changed,
                    after.size(),
                    changedShare * 100,
                    full.stats().bytesStored(),
                    incr.stats().bytesStored(),
                    storedShare * 100,
                    incr.stats().bytesRead(),
                    incr.totalFileBytes());
            printBreakdown(repo, full, incr);
            assertThat(changedShare).as("pages changed").isBetween(0.005, 0.02);
            assertThat(storedShare).as("incremental bytes / full bytes").isLessThanOrEqualTo(0.03);
            assertThat(incr.type()).isEqualTo("incr");
            assertThat(incr.parent()).isEqualTo(full.id());
            assertThat(incr.files())
                    .anyMatch(f -> f.chunks() != null && f.chunks().stream().anyMatch(ChunkRefs::isDelta));
            assertThat(incr.stats().bytesRead())
                    .as("unchanged files are not read again")
                    .isLessThan(incr.totalFileBytes());
            // every block of a changed file is read and hashed: nothing is taken over by page LSN any more
            assertThat(incr.engineInfo().toJson().has("blocksUnchangedByLsn")).isFalse();

            // a second incremental on top, then a differential against the full
            pg.pgbench(List.of("-n", "-t", "200", "-c", "1"), Duration.ofMinutes(5));
            Snapshot incr2 = backup(repo, pg, "incr");
            assertThat(incr2.parent()).isEqualTo(incr.id());
            Snapshot diff = backup(repo, pg, "diff");
            fingerprints.put(diff.id(), fingerprint(pg));
            assertThat(diff.parent()).isEqualTo(full.id());
            long history = count(pg, "select count(*) from pgbench_history");

            // each restores on its own and validates; the last one holds every history row
            for (Snapshot s : List.of(incr, diff)) {
                Path base = tmp.resolve("restore-" + s.type());
                PgRestore.Result r = new PgRestore(
                                repo,
                                new PgRestore.Options(s.id(), base.resolve("data"), 2, null, null),
                                null,
                                new Cancellation())
                        .run();
                PgValidator.Report rep = new PgValidator(repo, r.target(), s, 2, null, new Cancellation()).run();
                assertThat(rep.problems()).isEmpty();
                // every row as it was when the backup was taken (the source was idle meanwhile): a block wrongly
                // taken over from the parent would bring back older row versions
                try (LocalCluster restored = LocalCluster.attach(base)) {
                    restored.start();
                    assertThat(fingerprint(restored))
                            .as("rows restored from " + s.id())
                            .isEqualTo(fingerprints.get(s.id()));
                    if (s == diff) {
                        assertThat(count(restored, "select count(*) from pgbench_history"))
                                .isEqualTo(history);
                    }
                }
            }
            assertThat(new Verifier(repo)
                            .verify(null, true, 2, null, new Cancellation())
                            .problems())
                    .isEmpty();
        }
    }

    /** Every row of the pgbench tables, hashed in key order. */
    private static String fingerprint(LocalCluster pg) throws Exception {
        try (var c = pg.connect("postgres");
                var st = c.createStatement();
                var rs = st.executeQuery(
                        "select (select md5(string_agg(a::text, ',' order by aid)) from pgbench_accounts a)"
                                + " || (select md5(string_agg(t::text, ',' order by tid)) from pgbench_tellers t)"
                                + " || (select md5(string_agg(b::text, ',' order by bid)) from pgbench_branches b)"
                                + " || (select md5(coalesce(string_agg(h::text, ',' order by mtime, tid, aid), '')) "
                                + "from pgbench_history h)")) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static long added(Repository repo, Snapshot s) throws IOException {
        return s.stats().bytesStored()
                + repo.store().stat("snapshots/" + s.id()).orElseThrow().size();
    }

    /** Where an incremental's new bytes went (printed into the test report to explain the ratio). */
    private static void printBreakdown(Repository repo, Snapshot parent, Snapshot s) throws IOException {
        var index = repo.loadIndex();
        Set<ChunkId> old = new HashSet<>();
        parent.files().stream()
                .filter(f -> f.chunks() != null)
                .forEach(f -> f.chunks().forEach(r -> old.addAll(ChunkRefs.ids(r))));
        Map<String, long[]> by = new TreeMap<>();
        Set<ChunkId> seen = new HashSet<>();
        for (Snapshot.FileEntry f : s.files()) {
            if (f.chunks() == null) {
                continue;
            }
            for (String r : f.chunks()) {
                var ids = ChunkRefs.ids(r);
                var id = ids.getFirst();
                if (old.contains(id) || !seen.add(id)) {
                    continue;
                }
                String kind = f.path().startsWith("pg_wal/")
                        ? "wal"
                        : ChunkRefs.isDelta(r) ? "delta" : f.path().matches(".*/\\d+(\\.\\d+)?") ? "block" : "other";
                long[] v = by.computeIfAbsent(kind, k -> new long[3]);
                v[0]++;
                v[1] += index.get(id).rawLength();
                v[2] += index.get(id).length();
            }
        }
        by.forEach((k, v) -> System.out.printf("  %-6s %6d chunks, %10d raw bytes, %9d stored%n", k, v[0], v[1], v[2]));
        long idx = 0;
        for (var b : repo.store().list("index/")) {
            idx += b.size();
        }
        System.out.printf(
                "  index files total %d bytes; manifest %d bytes%n",
                idx, repo.store().stat("snapshots/" + s.id()).orElseThrow().size());
    }

    private Repository newRepo() throws IOException {
        LocalBlobStore store = new LocalBlobStore(tmp.resolve("repo"));
        KeySource key = KeySource.KeyFile.create(tmp.resolve("key"));
        Repository.init(store, key, false);
        return Repository.open(store, key);
    }

    private static Snapshot backup(Repository repo, LocalCluster pg, String type) throws IOException {
        return new PgBackup(
                        repo,
                        new PgBackupOptions(pg.dataDir(), null, null, "postgres", type, Compression.LOW, 2),
                        null,
                        new Cancellation())
                .run();
    }

    /** CRC of every 8 KiB page of every relation file, keyed by file and page number. */
    private static Map<String, Long> pageChecksums(Path pgdata) throws IOException {
        Map<String, Long> out = new HashMap<>();
        try (Stream<Path> files = Files.walk(pgdata.resolve("base"))) {
            for (Path f : files.filter(Files::isRegularFile)
                    .filter(p -> p.getFileName().toString().matches("\\d+(\\.\\d+)?"))
                    .toList()) {
                byte[] b = Files.readAllBytes(f);
                for (int p = 0; p + 8192 <= b.length; p += 8192) {
                    CRC32C crc = new CRC32C();
                    crc.update(b, p, 8192);
                    out.put(f + "#" + p / 8192, crc.getValue());
                }
            }
        }
        return out;
    }
}
