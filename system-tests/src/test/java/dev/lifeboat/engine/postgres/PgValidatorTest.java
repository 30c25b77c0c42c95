package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Json;
import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * restore --validate on a cluster holding every relation kind: a healthy copy validates clean and amcheck covers
 * exactly what pg_amcheck covers; a stale visibility map and a non-empty unlogged table in a copy are reported.
 */
class PgValidatorTest {
    @TempDir
    static Path tmp;

    static Path keyFile;
    static String uri;
    static Repository repo;
    static Snapshot snap;
    static Path sourceData;
    /** data-directory-relative paths, taken from the source cluster */
    static String vmFork;

    static List<String> unloggedMainForks;

    static int publisherPort;

    @BeforeAll
    static void setUp() throws Exception {
        keyFile = PgTestSupport.keyFile(tmp);
        uri = PgTestSupport.repoUri(tmp.resolve("repo"));
        assertThat(cli("repo-init", "--repo", uri, "--key-file", keyFile.toString())
                        .exitCode())
                .isZero();
        repo = Repository.open(new LocalBlobStore(tmp.resolve("repo")), KeySource.KeyFile.read(keyFile));
        Path csv = tmp.resolve("ext.csv");
        Files.writeString(csv, "1,one\n2,two\n");
        try (LocalCluster pg = LocalCluster.create(tmp.resolve("src"), List.of())) {
            pg.start();
            sourceData = pg.dataDir();
            everyRelationKind(pg, "postgres", csv);
            // a subscriber: a copy of it must not connect to the publisher (nobody listens there until the test does)
            publisherPort = PgValidator.freePort();
            PgTestSupport.exec(
                    pg,
                    "create subscription copy_sub connection 'host=127.0.0.1 port=" + publisherPort
                            + " dbname=postgres connect_timeout=5' publication p with (connect = false)",
                    "alter subscription copy_sub enable");
            PgTestSupport.exec(pg, "create database \"Other DB\"");
            everyRelationKind(pg, "Other DB", csv);
            try (Connection c = pg.connect("postgres");
                    Statement st = c.createStatement()) {
                vmFork = one(st, "select pg_relation_filepath('vmtest')") + "_vm";
                unloggedMainForks = List.of(
                        one(st, "select pg_relation_filepath('scratch')"),
                        one(st, "select pg_relation_filepath('scratch_pkey')"));
                assertThat(one(
                                st,
                                "select count(*) from pg_index i join pg_class c on c.oid = i.indexrelid "
                                        + "where c.relkind = 'I'"))
                        .as("partitioned indexes")
                        .isNotEqualTo("0");
                assertThat(one(st, "select count(*) from pg_index where not indisvalid"))
                        .as("invalid index")
                        .isEqualTo("1");
            }
            snap = new PgBackup(
                            repo,
                            new PgBackupOptions(pg.dataDir(), null, null, "postgres", "full", Compression.LOW, 2),
                            null,
                            new Cancellation())
                    .run();
        } // stopped cleanly: the shutdown checkpoint writes the unlogged tables' pages, which the damage test copies
    }

    /** Ordinary, partitioned (range, list, sub-partitions, default), TOAST, views, sequence, type, foreign, unlogged,
     * every index AM. */
    static void everyRelationKind(LocalCluster pg, String db, Path csv) throws SQLException {
        try (Connection c = pg.connect(db);
                Statement st = c.createStatement()) {
            for (String sql : List.of(
                    "create extension file_fdw",
                    "create schema \"Sales Data\"",
                    "create table \"Sales Data\".\"Customers\" (id int primary key, \"Name\" text not null)",
                    "insert into \"Sales Data\".\"Customers\" select g, 'customer ' || g from generate_series(1, 200) "
                            + "g",
                    "create table \"Sales Data\".\"Orders\" (id bigint, customer int references \"Sales "
                            + "Data\".\"Customers\" (id), "
                            + "placed date not null, region text not null, note text, primary key (id, placed, "
                            + "region)) "
                            + "partition by range (placed)",
                    "create table \"Sales Data\".\"Orders 2024\" partition of \"Sales Data\".\"Orders\" "
                            + "for values from ('2024-01-01') to ('2025-01-01') partition by list (region)",
                    "create table \"Sales Data\".orders_2024_eu partition of \"Sales Data\".\"Orders 2024\" for values "
                            + "in ('eu')",
                    "create table \"Sales Data\".orders_2024_us partition of \"Sales Data\".\"Orders 2024\" for values "
                            + "in ('us')",
                    "create table \"Sales Data\".orders_2024_rest partition of \"Sales Data\".\"Orders 2024\" default",
                    "create table \"Sales Data\".orders_2025 partition of \"Sales Data\".\"Orders\" "
                            + "for values from ('2025-01-01') to ('2026-01-01')",
                    "create table \"Sales Data\".orders_default partition of \"Sales Data\".\"Orders\" default",
                    "create index \"Orders by customer\" on \"Sales Data\".\"Orders\" (customer)",
                    "create index on \"Sales Data\".orders_2025 (note)",
                    "insert into \"Sales Data\".\"Orders\" select g, 1 + g % 200, date '2024-01-01' + (g % 900), "
                            + "(array['eu', 'us', 'apac'])[1 + g % 3], 'note ' || g from generate_series(1, 3000) g",
                    "create table order_notes (order_id bigint, placed date, region text, body text, "
                            + "foreign key (order_id, placed, region) references \"Sales Data\".\"Orders\")",
                    "insert into order_notes select id, placed, region, 'n' from \"Sales Data\".\"Orders\" where id % "
                            + "10 = 0",
                    "create table events (id int, kind text not null, payload jsonb) partition by list (kind)",
                    "create table events_a partition of events for values in ('a')",
                    "create table events_b partition of events for values in ('b')",
                    "create index on events (id)",
                    "insert into events select g, (array['a', 'b'])[1 + g % 2], jsonb_build_object('g', g) from "
                            + "generate_series(1, 500) g",
                    "create table docs (id int primary key, body text)",
                    "alter table docs alter column body set storage external",
                    "insert into docs select g, repeat(md5(g::text), 200) from generate_series(1, 40) g",
                    "create materialized view docs_summary as select id, length(body) as len from docs",
                    "create unique index on docs_summary (id)",
                    "create materialized view not_yet as select 1 as x with no data",
                    "create view long_docs as select * from docs where id > 10",
                    "create sequence standalone_seq",
                    "select nextval('standalone_seq')",
                    "create type pair as (a int, b text)",
                    "create table uses_pair (id int, p pair)",
                    "insert into uses_pair values (1, row(1, 'x'))",
                    "create server files foreign data wrapper file_fdw",
                    "create foreign table csv_in (a int, b text) server files options (filename '" + csv
                            + "', format 'csv')",
                    "create unlogged table scratch (id int primary key, v text)",
                    "insert into scratch select g, 'scratch ' || g from generate_series(1, 1000) g",
                    "create table shapes (id int, h int, pt point, tags text[], n int, doc tsvector)",
                    "insert into shapes select g, g % 50, point(g, g % 7), array['t' || g % 5, 'u' || g % 3], g, "
                            + "to_tsvector('simple', 'word' || g % 11) from generate_series(1, 2000) g",
                    "create index on shapes using hash (h)",
                    "create index on shapes using gist (pt)",
                    "create index on shapes using gin (tags)",
                    "create index on shapes using gin (doc)",
                    "create index on shapes using brin (n)",
                    "create index on shapes using spgist (pt)",
                    "create index on shapes ((h * 2))",
                    "create index on shapes (n) where n % 2 = 0",
                    // one small page with room to spare, so no page pruning (which needs a nearly full page) removes
                    // the deleted tuples before the damage test marks their page all-visible
                    "create table vmtest (id int primary key, pad text) with (autovacuum_enabled = false)",
                    "insert into vmtest select g, 'row ' || g from generate_series(1, 30) g",
                    "vacuum (freeze) vmtest",
                    "delete from vmtest where id <= 10",
                    "vacuum analyze shapes")) {
                st.execute(sql);
            }
            // a failed CREATE INDEX CONCURRENTLY leaves an invalid index behind
            assertThatThrownBy(() -> st.execute("create unique index concurrently shapes_h_unique on shapes (h)"))
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("could not create unique index");
        }
    }

    @AfterAll
    static void tearDown() {
        // clusters are stopped by the tests; the temp dir goes with JUnit
    }

    @Test
    void aHealthyCopyOfEveryRelationKindValidatesCleanAndAmcheckCoversWhatPgAmcheckCovers() throws Exception {
        Path base = tmp.resolve("healthy");
        CliResult r = cli(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--target",
                base.resolve("data").toString(),
                "--validate",
                "--json",
                "-q");
        assertThat(r.exitCode()).as(r.all()).isZero();
        JsonNode out = Json.MAPPER.readTree(r.out());
        assertThat(out.path("ok").asBoolean()).as(r.out()).isTrue();
        JsonNode validation = out.path("validation");
        assertThat(validation.path("problems")).isEmpty();
        List<JsonNode> dbs = new ArrayList<>();
        validation.path("databases").forEach(dbs::add);
        assertThat(dbs).extracting(d -> d.path("name").asText()).containsExactly("Other DB", "postgres", "template1");

        try (LocalCluster copy = LocalCluster.attach(base)) {
            copy.start();
            for (JsonNode db : dbs) {
                String name = db.path("name").asText();
                assertThat(db.path("corruption")).as(name).isEmpty();
                assertThat(db.path("visibilityRelationsChecked").asInt())
                        .as(name)
                        .isEqualTo(db.path("heapRelationsChecked").asInt());
                if (!name.equals("template1")) {
                    assertThat(db.path("unloggedTablesChecked").asInt())
                            .as(name)
                            .isGreaterThanOrEqualTo(2); // scratch and its TOAST
                    assertThat(db.path("tables").toString())
                            .contains("\\\"Sales Data\\\".orders_2024_rest")
                            .contains("docs_summary")
                            .doesNotContain("not_yet")
                            .doesNotContain("csv_in");
                    assertThat(db.path("foreignKeys"))
                            .isNotEmpty()
                            .allSatisfy(f ->
                                    assertThat(f.path("violations").asLong()).isZero());
                }
                // pg_amcheck, PostgreSQL's own driver of amcheck, picks the same heap relations and B-tree indexes
                PgAmcheck mine = pgAmcheck(copy, name);
                assertThat(mine.exitCode()).as(mine.output()).isZero();
                assertThat(db.path("heapRelationsChecked").asInt())
                        .as(name)
                        .isEqualTo(mine.heaps().size());
                Set<String> invalid = new HashSet<>();
                try (Connection c = copy.connect(name);
                        Statement st = c.createStatement();
                        ResultSet rs = st.executeQuery(
                                "select indexrelid::text from pg_index where not (indisvalid and indisready and "
                                        + "indislive)")) {
                    while (rs.next()) {
                        invalid.add(rs.getString(1));
                    }
                }
                Set<String> btrees = new HashSet<>(mine.btrees());
                // pg_amcheck 15 sends the check for an invalid index too, with a WHERE clause that skips it
                btrees.removeAll(invalid);
                assertThat(db.path("btreeIndexesChecked").asInt()).as(name).isEqualTo(btrees.size());
            }
        }
    }

    record PgAmcheck(int exitCode, String output, Set<String> heaps, Set<String> btrees) {}

    /** Runs pg_amcheck on one database of a running copy and collects the relation OIDs it checked. */
    static PgAmcheck pgAmcheck(LocalCluster pg, String db) throws Exception {
        Processes.Result r = Processes.run(
                Processes.asUser(
                        pg.osUser(),
                        List.of(
                                pg.binaries().path("pg_amcheck"),
                                "-h",
                                pg.socketDir().toString(),
                                "-p",
                                Integer.toString(pg.port()),
                                "-U",
                                "postgres",
                                "--heapallindexed",
                                "--install-missing",
                                "--echo",
                                "-d",
                                "\"" + db + "\"")),
                Duration.ofMinutes(5)); // a pattern: quoted keeps its case
        Set<String> heaps = new HashSet<>();
        Set<String> btrees = new HashSet<>();
        // pg_amcheck 15 echoes e.g. "… verify_heapam(\nrelation := c.oid, …\n) v WHERE c.oid = 1255 AND …" and
        // "SELECT ….bt_index_check(index := c.oid, …)\nFROM … WHERE c.oid = 2691 AND … AND i.indisvalid …"
        Matcher h = Pattern.compile("verify_heapam\\([^)]*\\) v WHERE c\\.oid = (\\d+)")
                .matcher(r.output());
        while (h.find()) {
            heaps.add(h.group(1));
        }
        Matcher b = Pattern.compile("bt_index_check\\(index := c\\.oid[^\\n]*\\n[^\\n]*WHERE c\\.oid = (\\d+)")
                .matcher(r.output());
        while (b.find()) {
            btrees.add(b.group(1));
        }
        return new PgAmcheck(r.exitCode(), r.output(), heaps, btrees);
    }

    /** Restores the backup to base/data with the engine, validates it (promoting it) and leaves it stopped. */
    static Path restoreAndValidate(String name) throws Exception {
        Path target = tmp.resolve(name).resolve("data");
        new PgRestore(repo, new PgRestore.Options("latest", target, 2, null, null), null, new Cancellation()).run();
        PgValidator.Report first = new PgValidator(repo, target, snap, 2, null, new Cancellation()).run();
        assertThat(first.problems()).isEmpty();
        return target;
    }

    /** Validates a copy that has run since its restore: its files differ from the manifest by now, so skip that part.
     * */
    static PgValidator.Report revalidate(Path target) throws Exception {
        return new PgValidator(repo, target, snap, 2, null, new Cancellation())
                .skipChecksums(
                        snap.files().stream().map(Snapshot.FileEntry::path).toList())
                .run();
    }

    @Test
    void aCopyOfASubscriberDoesNotConnectToItsPublisher() throws Exception {
        AtomicInteger connections = new AtomicInteger();
        try (ServerSocket publisher = new ServerSocket(publisherPort, 50, InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                while (true) {
                    try (Socket s = publisher.accept()) {
                        connections.incrementAndGet();
                    } catch (IOException e) {
                        return; // closed
                    }
                }
            });
            Path target = restoreAndValidate("subscriber");
            // the validation server runs for seconds after promotion: long enough for the launcher to start an apply
            // worker (it does at once), which would connect to the publisher with the copy's stored credentials
            PgValidator.Report again = revalidate(target);
            assertThat(again.problems()).isEmpty();
        }
        assertThat(connections.get())
                .as("connections from the copy to its publisher")
                .isZero();
    }

    @Test
    void aVisibilityMapThatCallsAPageWithDeletedTuplesAllVisibleIsReported() throws Exception {
        Path target = restoreAndValidate("stale-vm");
        // visibilitymap.c: after the 24-byte page header, two bits per heap block (all-visible 0x01, all-frozen 0x02),
        // heap block 0 in the lowest bits of the first byte. Data checksums are off, so no page checksum to fix.
        try (FileChannel ch =
                FileChannel.open(target.resolve(vmFork), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, 24);
            assertThat(b.get(0) & 0x03)
                    .as("block 0 holds deleted tuples, so its bits are clear")
                    .isZero();
            ch.write(ByteBuffer.wrap(new byte[] {(byte) (b.get(0) | 0x03)}), 24);
        }
        PgValidator.Report r = revalidate(target);
        assertThat(r.ok()).isFalse();
        assertThat(r.problems())
                .anySatisfy(p -> assertThat(p)
                        .startsWith("database postgres: vmtest:")
                        .contains("all-visible")
                        .contains("(0,1)")
                        .contains("pg_check_visible"));
        assertThat(r.problems())
                .anySatisfy(p -> assertThat(p)
                        .startsWith("database postgres: vmtest:")
                        .contains("all-frozen")
                        .contains("pg_check_frozen"));
        assertThat(r.problems()).noneMatch(p -> p.contains("Other DB"));
    }

    @Test
    void anUnloggedTableWithRowsInACopyIsReported() throws Exception {
        Path target = restoreAndValidate("unlogged");
        // the source's pages of the unlogged table and its index, as if a backup had stored them
        for (String fork : unloggedMainForks) {
            Files.write(target.resolve(fork), Files.readAllBytes(sourceData.resolve(fork))); // keeps the file's owner
        }
        PgValidator.Report r = revalidate(target);
        assertThat(r.ok()).isFalse();
        assertThat(r.problems())
                .anySatisfy(p -> assertThat(p).startsWith("database postgres: unlogged table scratch holds 1000 rows"));
        assertThat(r.problems()).noneMatch(p -> p.contains("Other DB"));
    }

    static String one(Statement st, String sql) throws SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
