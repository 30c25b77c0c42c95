package dev.lifeboat.engine.postgres.walsummary;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.engine.postgres.WalSources;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.WalSource;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStores;
import dev.lifeboat.util.Processes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The summarizer against PostgreSQL's own WAL decoder: over a range holding updates, TOAST, a segment switch, a
 * truncation, a VACUUM that shortens a table, a dropped table and database creations and drops, it finds exactly the
 * main-fork block references pg_waldump prints, the limit blocks of the truncated relations and the replaced databases.
 */
class WalSummarizerTest {
    @TempDir
    static Path dir;

    static LocalCluster pg;
    static WalArchive archive;
    static long start;
    static long end;
    static int timeline;
    static int[] gone;

    @BeforeAll
    static void workload() throws Exception {
        pg = LocalCluster.create(dir.resolve("pg"), List.of("autovacuum = off", "wal_keep_size = 1GB"));
        pg.start();
        BlobStore store = BlobStores.open(dir.resolve("repo").toUri().toString());
        KeySource key = KeySource.KeyFile.create(dir.resolve("repo.key"));
        Repository.init(store, key, false);
        archive = new WalArchive(Repository.open(store, key));
        try (Connection c = pg.connect("postgres")) {
            exec(
                    c,
                    "create table a (id int primary key, v text)",
                    "create index a_hash on a using hash (id)",
                    "insert into a select i, md5(i::text) from generate_series(1, 20000) i",
                    "create table b as select i from generate_series(1, 5000) i",
                    "create table big (t text)",
                    "create table shrinks as select i from generate_series(1, 20000) i",
                    "create table gone as select i from generate_series(1, 100) i");
            gone = relation(c, "gone");
            start = redo(c);
            exec(
                    c,
                    "update a set v = v || 'x' where id % 97 = 0",
                    // rows far larger than a WAL page, of random (incompressible) text: records across pages
                    "insert into big select string_agg(md5(random()::text), '') from generate_series(1, 2000) g,"
                            + " generate_series(1, 5) r group by r",
                    "select pg_switch_wal()",
                    "truncate b",
                    "insert into b select i from generate_series(1, 10) i",
                    "delete from shrinks where i > 10000",
                    "vacuum shrinks",
                    "create database copied strategy file_copy",
                    "create database logged strategy wal_log",
                    "drop database logged",
                    "drop table gone");
            end = redo(c);
            timeline = Integer.parseInt(one(c, "select timeline_id::text from pg_control_checkpoint()"));
        }
    }

    @AfterAll
    static void stop() throws Exception {
        if (pg != null) {
            pg.close();
        }
    }

    @Test
    void findsWhatPgWaldumpFinds() throws Exception {
        WalSummarizer.Summary s =
                summarizer(pg.dataDir().resolve("pg_wal")).summarize(start, end).orElseThrow();
        String dump = Processes.check(
                List.of(
                        pg.binaries().path("pg_waldump"),
                        "-p",
                        pg.dataDir().resolve("pg_wal").toString(),
                        "-t",
                        Integer.toString(timeline),
                        "-s",
                        Lsn.format(start),
                        "-e",
                        Lsn.format(end)),
                Duration.ofMinutes(2));
        // xlogreader's XLogRecGetBlockRefInfo names the fork only when it is not the main one
        Matcher m = Pattern.compile("blkref #\\d+: rel (\\d+/\\d+/\\d+)( fork \\w+)? blk (\\d+)")
                .matcher(dump);
        SortedSet<String> expected = new TreeSet<>();
        while (m.find()) {
            if (m.group(2) == null) {
                expected.add(m.group(1) + " blk " + m.group(3));
            }
        }
        assertTrue(expected.size() > 100, "the workload references blocks: " + expected.size());
        assertEquals(expected, s.blocks().describeModified());
        assertTrue(s.walBytes() > 5 * 8192, "records of " + s.walBytes() + " bytes read");

        try (Connection c = pg.connect("postgres")) {
            int[] a = relation(c, "a");
            int[] shrinks = relation(c, "shrinks");
            assertEquals(
                    Long.parseLong(one(c, "select (pg_relation_size('shrinks') / 8192)::text")),
                    s.blocks().limit(shrinks[0], shrinks[1], shrinks[2]),
                    "VACUUM's truncation");
            int[] b = relation(c, "b");
            assertEquals(0L, s.blocks().limit(b[0], b[1], b[2]), "b's new relfilenode (TRUNCATE) was created");
            assertEquals(0L, s.blocks().limit(gone[0], gone[1], gone[2]), "a dropped table");
            int copied = Integer.parseInt(one(c, "select oid::text from pg_database where datname = 'copied'"));
            assertNull(s.blocks().changesIn(new RelationFile(1663, copied, 1259, 0, 0)), "a database copied");
            ModifiedBlocks.Changes unchanged = s.blocks().changesIn(new RelationFile(1663, a[1], 1, 0, 0));
            assertNotNull(unchanged);
            assertEquals(Long.MAX_VALUE, unchanged.limit());
            assertTrue(unchanged.modified().isEmpty());
        }
    }

    @Test
    void noSummaryWhenTheWalIsMissing() throws Exception {
        Path empty = Files.createDirectories(dir.resolve("empty-pg_wal"));
        assertEquals(Optional.empty(), summarizer(empty).summarize(start, end));
    }

    @Test
    void noSummaryFromDamagedWal() throws Exception {
        Path copy = Files.createDirectories(dir.resolve("damaged-pg_wal"));
        long segSize = 16L << 20;
        for (long seg = start / segSize; seg <= end / segSize; seg++) {
            String name = Lsn.segmentName(timeline, seg, segSize);
            Files.copy(pg.dataDir().resolve("pg_wal").resolve(name), copy.resolve(name));
        }
        // one byte of the first record after the start: its CRC no longer matches
        String first = Lsn.segmentName(timeline, start / segSize, segSize);
        byte[] b = Files.readAllBytes(copy.resolve(first));
        b[(int) (start % segSize) + 30] ^= 0x5A;
        Files.write(copy.resolve(first), b);
        assertEquals(Optional.empty(), summarizer(copy).summarize(start, end));
    }

    @Test
    void readsFromTheArchiveWhatPgWalNoLongerHoldsOrHoldsRecycled() throws Exception {
        long segSize = 16L << 20;
        long first = start / segSize;
        long last = end / segSize;
        assertTrue(last > first, "the range spans segments");
        WalSource source = WalSources.of(pg.dataDir(), "test");
        Path copy = Files.createDirectories(dir.resolve("recycled-pg_wal"));
        for (long seg = first; seg <= last; seg++) {
            String name = Lsn.segmentName(timeline, seg, segSize);
            byte[] b = Files.readAllBytes(pg.dataDir().resolve("pg_wal").resolve(name));
            archive.push(name, b, source);
            if (seg == last) {
                // a recycled file under this name: another segment's pages (their addresses do not match)
                Files.copy(
                        pg.dataDir().resolve("pg_wal").resolve(Lsn.segmentName(timeline, first, segSize)),
                        copy.resolve(name));
            } else if (seg != first) { // the first one is gone from pg_wal
                Files.write(copy.resolve(name), b);
            }
        }
        WalSummarizer.Summary direct =
                summarizer(pg.dataDir().resolve("pg_wal")).summarize(start, end).orElseThrow();
        WalSummarizer.Summary mixed = summarizer(copy).summarize(start, end).orElseThrow();
        assertEquals(2, mixed.segmentsFromArchive());
        assertEquals(direct.walBytes(), mixed.walBytes());
        assertEquals(direct.blocks().describeModified(), mixed.blocks().describeModified());
    }

    private static WalSummarizer summarizer(Path pgWal) {
        return new WalSummarizer(pgWal, archive, timeline, 16L << 20, 131072, new Cancellation(), null);
    }

    private static int[] relation(Connection c, String table) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("select case when reltablespace = 0 then 1663 else reltablespace end,"
                        + " (select oid from pg_database where datname = current_database()), relfilenode"
                        + " from pg_class where relname = '" + table + "'")) {
            rs.next();
            return new int[] {rs.getInt(1), rs.getInt(2), rs.getInt(3)};
        }
    }

    private static long redo(Connection c) throws SQLException {
        exec(c, "checkpoint");
        return Lsn.parse(one(c, "select redo_lsn::text from pg_control_checkpoint()"));
    }

    private static String one(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static void exec(Connection c, String... sql) throws SQLException {
        try (Statement st = c.createStatement()) {
            for (String q : sql) {
                st.execute(q);
            }
        }
    }
}
