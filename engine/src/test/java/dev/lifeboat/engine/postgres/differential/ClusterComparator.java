package dev.lifeboat.engine.postgres.differential;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Judges a restore against its quiesced source with PostgreSQL's own tools. Read-only checks come first (visibility
 * map, index-only scans, index probes, pg_dump); pg_amcheck, which installs amcheck where it is missing and so changes
 * catalogs, runs last and only on the restore.
 */
final class ClusterComparator {
    /** One difference or corruption: where (database, relation), which check, and what exactly. */
    record Finding(String database, String relation, String check, String detail) {
        @Override
        public String toString() {
            return "[" + check + "] " + database + (relation == null ? "" : " " + relation) + ": " + detail;
        }
    }

    private static final int MAX_BLOCKS_SHOWN = 8;
    private static final int MAX_TIDS_SHOWN = 10;

    private final LocalCluster source;
    private final LocalCluster restored;
    private final Path workDir;
    private final List<Finding> findings = new ArrayList<>();
    /** What was checked, for the log: a comparison that checked nothing must not look like a pass. */
    private final Map<String, Integer> checked = new TreeMap<>();

    ClusterComparator(LocalCluster source, LocalCluster restored, Path workDir) {
        this.source = source;
        this.restored = restored;
        this.workDir = workDir;
    }

    Map<String, Integer> checked() {
        return checked;
    }

    List<Finding> compare() throws IOException, SQLException {
        for (LocalCluster pg : List.of(source, restored)) {
            try (Connection c = pg.connect("postgres")) {
                String av = DiffCluster.rows(c, "show autovacuum").getFirst();
                if (!av.equals("off")) {
                    throw new IllegalStateException(
                            "autovacuum is " + av + " on " + pg.dataDir() + ": the comparison needs it off");
                }
            }
        }
        List<String> dbs = databases(source);
        List<String> restoredDbs = databases(restored);
        if (!dbs.equals(restoredDbs)) {
            findings.add(
                    new Finding("(cluster)", null, "databases", "source has " + dbs + ", restore has " + restoredDbs));
        }
        List<String> common = dbs.stream().filter(restoredDbs::contains).toList();
        for (String db : common) {
            try (Connection s = source.connect(db);
                    Connection r = restored.connect(db)) {
                // installing it here would change the catalogs whose visibility is compared: the workload installs it
                if (hasPgVisibility(s) && hasPgVisibility(r)) {
                    visibility(db, s, r);
                } else {
                    count("databases without pg_visibility, visibility not compared (" + db + ")", 1);
                }
                unloggedEmpty(db, r);
                indexOnlyScans(db, s, r);
                indexProbes(db, s, r);
                matviews(db, s, r);
            }
        }
        for (String db : common) {
            dumps(db);
        }
        globals();
        amcheck();
        return findings;
    }

    private static boolean hasPgVisibility(Connection c) throws SQLException {
        return DiffCluster.queryLong(c, "select count(*) from pg_extension where extname = 'pg_visibility'") > 0;
    }

    static List<String> databases(LocalCluster pg) throws SQLException {
        try (Connection c = pg.connect("postgres")) {
            return DiffCluster.rows(c, "select datname from pg_database where datallowconn order by 1");
        }
    }

    /** Relations with a visibility map: tables, materialized views and TOAST tables. */
    private static final String WITH_VM = "c.relkind in ('r', 'm', 't')";

    /** Names a relation; a TOAST table also by the table it belongs to. */
    private static final String REL_NAME =
            "c.oid::regclass::text || coalesce(' (TOAST of ' || (select t.oid::regclass::text "
                    + "from pg_class t where t.reltoastrelid = c.oid) || ')', '')";

    /**
     * Per block: the visibility map's all-visible and all-frozen bits and the page's PD_ALL_VISIBLE flag, equal to the
     * source's (both quiesced); then pg_check_visible and pg_check_frozen empty on the restore (and on the source, as
     * a control: a finding there is the workload's or PostgreSQL's, not the restore's).
     */
    private void visibility(String db, Connection s, Connection r) throws SQLException {
        String q = "select " + REL_NAME + ", v.blkno, v.all_visible, v.all_frozen, v.pd_all_visible from pg_class c, "
                + "lateral pg_visibility(c.oid) v where " + WITH_VM
                + " and c.relpersistence = 'p' order by c.oid, v.blkno";
        Map<String, List<String>> vs = byRelation(DiffCluster.rows(s, q));
        Map<String, List<String>> vr = byRelation(DiffCluster.rows(r, q));
        count("relations whose visibility map was compared", vs.size());
        for (String rel : new TreeSet<>(vs.keySet())) {
            List<String> a = vs.get(rel);
            List<String> b = vr.getOrDefault(rel, List.of());
            if (!vr.containsKey(rel) && !a.isEmpty()) {
                findings.add(new Finding(
                        db,
                        rel,
                        "visibility map",
                        "relation (" + a.size() + " blocks) missing or empty in the restore"));
                continue;
            }
            if (a.equals(b)) {
                continue;
            }
            List<String> diffs = new ArrayList<>();
            int ndiff = 0;
            for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
                String x = i < a.size() ? a.get(i) : null;
                String y = i < b.size() ? b.get(i) : null;
                if (!Objects.equals(x, y)) {
                    ndiff++;
                    if (diffs.size() < MAX_BLOCKS_SHOWN) {
                        diffs.add("block " + i + ": source " + flags(x) + ", restore " + flags(y));
                    }
                }
            }
            findings.add(new Finding(
                    db,
                    rel,
                    "visibility map",
                    ndiff + " of " + Math.max(a.size(), b.size())
                            + " blocks differ (source " + a.size() + " blocks, restore " + b.size() + "): "
                            + String.join("; ", diffs)
                            + (ndiff > diffs.size() ? "; …" : "")));
        }
        for (String rel : vr.keySet()) {
            if (!vs.containsKey(rel)) {
                findings.add(new Finding(
                        db,
                        rel,
                        "visibility map",
                        "relation only in the restore (" + vr.get(rel).size() + " blocks)"));
            }
        }
        for (String fn : List.of("pg_check_visible", "pg_check_frozen")) {
            String cq = "select " + REL_NAME
                    + ", count(*), string_agg(t::text, ' ' order by t) from pg_class c, lateral " + fn
                    + "(c.oid) t where " + WITH_VM + " and c.relpersistence = 'p' group by c.oid order by c.oid";
            for (var side : List.of(Map.entry("restore", r), Map.entry("SOURCE (control)", s))) {
                for (String row : DiffCluster.rows(side.getValue(), cq)) {
                    String[] f = row.split("\\|", 3);
                    String[] tids = f[2].split(" ");
                    String shown = String.join(" ", Arrays.copyOf(tids, Math.min(tids.length, MAX_TIDS_SHOWN)));
                    findings.add(new Finding(
                            db,
                            f[0],
                            fn,
                            side.getKey() + ": " + f[1] + " tuples on pages the visibility map marks "
                                    + (fn.equals("pg_check_visible")
                                            ? "all-visible are not visible to all"
                                            : "all-frozen are not frozen")
                                    + ": " + shown + (tids.length > MAX_TIDS_SHOWN ? " …" : "")));
                }
            }
        }
    }

    private static String flags(String row) {
        if (row == null) {
            return "(no block)";
        }
        String[] f = row.split("\\|");
        return "vm " + (f[0].equals("t") ? "all-visible" : "not-all-visible") + (f[1].equals("t") ? "+all-frozen" : "")
                + ", page PD_ALL_VISIBLE " + (f[2].equals("t") ? "set" : "clear");
    }

    /** relation → rows after its name (its blocks' flags), in block order. */
    private static Map<String, List<String>> byRelation(List<String> rows) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (String row : rows) {
            String[] f = row.split("\\|");
            out.computeIfAbsent(f[0], k -> new ArrayList<>()).add(f[2] + "|" + f[3] + "|" + f[4]);
        }
        return out;
    }

    /** Unlogged tables (and their TOAST) come back empty: their contents are never in WAL nor in a backup. */
    private void unloggedEmpty(String db, Connection r) throws SQLException {
        for (String rel : DiffCluster.rows(
                r,
                "select c.oid::regclass::text from pg_class c where c.relkind in ('r', 't') "
                        + "and c.relpersistence = 'u' order by c.oid")) {
            count("unlogged relations checked empty", 1);
            long n = DiffCluster.queryLong(r, "select count(*) from " + rel);
            if (n != 0) {
                findings.add(new Finding(
                        db, rel, "unlogged", "unlogged relation has " + n + " rows in the restore; it must be empty"));
            }
        }
    }

    /**
     * An index-only scan trusts the visibility map for every all-visible page, so its count(*) equals a sequential
     * scan's only when the map is right. Every permanent table (catalogs and TOAST tables too) with a valid btree
     * index.
     */
    private void indexOnlyScans(String db, Connection s, Connection r) throws SQLException {
        String q = "select distinct c.oid, c.oid::regclass::text from pg_class c join pg_index i on i.indrelid = c.oid "
                + "join pg_class ic on ic.oid = i.indexrelid join pg_am am on am.oid = ic.relam where am.amname = "
                + "'btree' "
                + "and i.indisvalid and i.indpred is null and " + WITH_VM + " and c.relpersistence = 'p' order by 1";
        List<String> tables =
                DiffCluster.rows(r, q).stream().map(x -> x.split("\\|", 2)[1]).toList();
        for (String t : tables) {
            String sql = "select count(*) from " + t;
            long seqR = forcedCount(r, t, sql, "Seq Scan");
            Long iosR = forced(r, sql, "Index Only Scan", indexOnlyScanOnly());
            long seqS;
            Long iosS;
            try {
                seqS = forcedCount(s, t, sql, "Seq Scan");
                iosS = forced(s, sql, "Index Only Scan", indexOnlyScanOnly());
            } catch (SQLException e) {
                findings.add(new Finding(db, t, "index-only scan", "cannot count it on the source: " + e.getMessage()));
                continue;
            }
            if (iosR == null) {
                count("tables where no index-only scan could be forced", 1);
                continue;
            }
            count("tables whose index-only count was compared", 1);
            if (iosR != seqR || seqR != seqS) {
                findings.add(new Finding(
                        db,
                        t,
                        "index-only scan",
                        "restore: index-only scan counts " + iosR
                                + " rows, sequential scan " + seqR + "; source: index-only " + iosS + ", sequential "
                                + seqS
                                + (iosR != seqR
                                        ? " (the visibility map marks pages all-visible that hold dead or invisible "
                                                + "index entries)"
                                        : "")));
            } else if (iosS != null && iosS.longValue() != seqS) {
                findings.add(new Finding(
                        db, t, "index-only scan", "SOURCE (control): index-only " + iosS + " vs sequential " + seqS));
            }
        }
    }

    /** "am:column" → a predicate that kind of index answers (the kinds of {@link Workload#INDEXES}). */
    static final Map<String, String> PROBES = Map.of(
            "hash:k", "k = 17",
            "brin:k", "k between 300 and 340",
            "brin:id", "id between 10 and 60",
            "spgist:t", "t ^@ 'a'",
            "gist:pt", "pt <@ box '((10,10),(40,40))'",
            "spgist:pt", "pt <@ box '((10,10),(40,40))'",
            "gin:arr", "arr @> array[3]",
            "gin:doc", "doc @@ 'w7'::tsquery",
            "gist:doc", "doc @@ 'w7'::tsquery");

    /**
     * Non-btree indexes (hash, gist, gin, brin, spgist) have no amcheck in PostgreSQL 15: a query the index answers
     * must count what a sequential scan counts, on the restore and on the source.
     */
    private void indexProbes(String db, Connection s, Connection r) throws SQLException {
        String q = "select ic.relname, c.oid::regclass::text, am.amname, a.attname from pg_index i join pg_class ic on "
                + "ic.oid = i.indexrelid "
                + "join pg_class c on c.oid = i.indrelid join pg_am am on am.oid = ic.relam join pg_attribute "
                + "a on a.attrelid = c.oid "
                + "and a.attnum = i.indkey[0] where am.amname <> 'btree' and c.relnamespace = "
                + "'public'::regnamespace "
                + "and c.relpersistence = 'p' and i.indisvalid order by 1";
        for (String row : DiffCluster.rows(r, q)) {
            String[] f = row.split("\\|");
            String pred = PROBES.get(f[2] + ":" + f[3]);
            if (pred == null) {
                count("non-btree indexes without a probe", 1);
                continue;
            }
            String sql = "select count(*) from " + f[1] + " where " + pred;
            long seqR = forcedCount(r, f[1], sql, "Seq Scan");
            Long idxR = forcedIndexCount(r, sql, f[1], f[0]);
            long seqS;
            Long idxS;
            try {
                seqS = forcedCount(s, f[1], sql, "Seq Scan");
                idxS = forcedIndexCount(s, sql, f[1], f[0]);
            } catch (SQLException e) {
                findings.add(new Finding(
                        db, f[0], "index probe", "cannot run '" + sql + "' on the source: " + e.getMessage()));
                continue;
            }
            if (idxR == null) {
                count("non-btree indexes the planner would not use (" + f[0] + ")", 1);
                continue;
            }
            count("non-btree indexes probed", 1);
            if (idxR != seqR || seqR != seqS || !Objects.equals(idxS, seqS)) {
                findings.add(new Finding(
                        db,
                        f[0] + " (" + f[2] + " on " + f[1] + "." + f[3] + ")",
                        "index probe",
                        "'" + sql + "': restore index " + idxR + " / sequential " + seqR + ", source index " + idxS
                                + " / sequential " + seqS));
            }
        }
    }

    /** A materialized view's contents are not in pg_dump (it dumps a REFRESH): compare them directly. */
    private void matviews(String db, Connection s, Connection r) throws SQLException {
        for (String mv : DiffCluster.rows(
                s,
                "select c.oid::regclass::text from pg_class c where c.relkind = 'm' "
                        + "and c.relispopulated order by 1")) {
            count("materialized views compared", 1);
            String q =
                    "select count(*) || ' rows, md5 ' || coalesce(md5(string_agg(x::text, ',' order by x::text)), '-') "
                            + "from "
                            + mv + " x";
            String a = DiffCluster.rows(s, q).getFirst();
            String b;
            try {
                b = DiffCluster.rows(r, q).getFirst();
            } catch (SQLException e) {
                b = "error: " + e.getMessage();
            }
            if (!a.equals(b)) {
                findings.add(new Finding(db, mv, "materialized view", "source " + a + ", restore " + b));
            }
        }
    }

    private static long forcedCount(Connection c, String rel, String sql, String node) throws SQLException {
        Long n = forced(c, sql, node, seqScanOnly());
        if (n == null) {
            throw new IllegalStateException("could not force a " + node + " on " + rel + " for: " + sql);
        }
        return n;
    }

    /**
     * The count with a plan that scans {@code index} (index or bitmap scan), or null if the planner will not. The
     * table's other indexes are marked invalid for the planner in a transaction that is rolled back: otherwise a
     * btree on the same column, or a gist next to an spgist, would always win and the index would go unchecked.
     */
    private static Long forcedIndexCount(Connection c, String sql, String table, String index) throws SQLException {
        c.setAutoCommit(false);
        try (Statement st = c.createStatement()) {
            st.execute("update pg_index set indisvalid = false where indrelid = '" + table
                    + "'::regclass and indexrelid <> '" + index + "'::regclass");
            return forced(
                    c,
                    sql,
                    " on " + index,
                    List.of(
                            "set local enable_seqscan = off",
                            "set local enable_indexscan = on",
                            "set local enable_bitmapscan = on",
                            "set local enable_indexonlyscan = on"));
        } finally {
            c.rollback();
            c.setAutoCommit(true);
        }
    }

    private static List<String> seqScanOnly() {
        return List.of(
                "set enable_seqscan = on",
                "set enable_indexscan = off",
                "set enable_bitmapscan = off",
                "set enable_indexonlyscan = off");
    }

    private static List<String> indexOnlyScanOnly() {
        // PostgreSQL 15's enable_indexscan = off also disables index-only scans (cost_index)
        return List.of(
                "set enable_seqscan = off",
                "set enable_indexscan = on",
                "set enable_bitmapscan = off",
                "set enable_indexonlyscan = on");
    }

    private static Long forced(Connection c, String sql, String planMustContain, List<String> settings)
            throws SQLException {
        try (Statement st = c.createStatement()) {
            for (String set : settings) {
                st.execute(set);
            }
            String plan = String.join("\n", DiffCluster.rows(c, "explain " + sql));
            // "Bitmap Index Scan on IDX" or "Index Scan using IDX on TABLE"
            if (!plan.contains(planMustContain)
                    && !(planMustContain.startsWith(" on ")
                            && plan.contains("using " + planMustContain.substring(4) + " on "))) {
                return null;
            }
            try (ResultSet rs = st.executeQuery(sql)) {
                rs.next();
                return rs.getLong(1);
            }
        } finally {
            try (Statement st = c.createStatement()) {
                st.execute("reset all");
            }
        }
    }

    private void dumps(String db) throws IOException, SQLException {
        Path a = workDir.resolve("dump-source-" + db + ".sql");
        Path b = workDir.resolve("dump-restore-" + db + ".sql");
        pgDump(source, db, a);
        String failed = run(restored, dumpArgs(db, b), "pg_dump");
        if (failed != null) {
            findings.add(new Finding(
                    db,
                    null,
                    "pg_dump",
                    "pg_dump of the restore fails (it succeeds on the source): " + failed.strip()));
            return;
        }
        Map<String, DumpComparator.SequenceInfo> seqs = new LinkedHashMap<>();
        try (Connection c = source.connect(db)) {
            for (String row : DiffCluster.rows(
                    c,
                    "select quote_ident(schemaname) || '.' || quote_ident(sequencename), "
                            + "increment_by, cache_size from pg_sequences")) {
                String[] f = row.split("\\|");
                seqs.put(f[0], new DumpComparator.SequenceInfo(Long.parseLong(f[1]), Long.parseLong(f[2])));
            }
        }
        count("databases dumped", 1);
        findings.addAll(DumpComparator.compare(db, a, b, seqs));
        Files.deleteIfExists(a);
        Files.deleteIfExists(b);
    }

    /**
     * Roles and tablespaces. The restore's tablespaces live elsewhere (the source's directories are in use), so
     * their locations are compared by name and then left out of the text.
     */
    private void globals() throws IOException, SQLException {
        Path a = workDir.resolve("globals-source.sql");
        Path b = workDir.resolve("globals-restore.sql");
        run(source, List.of("pg_dumpall", "--globals-only", "--no-role-passwords", "-f", a.toString()), null);
        run(restored, List.of("pg_dumpall", "--globals-only", "--no-role-passwords", "-f", b.toString()), null);
        List<String> ta;
        List<String> tb;
        try (Connection s = source.connect("postgres");
                Connection r = restored.connect("postgres")) {
            ta = DiffCluster.rows(s, "select spcname from pg_tablespace order by 1");
            tb = DiffCluster.rows(r, "select spcname from pg_tablespace order by 1");
        }
        if (!ta.equals(tb)) {
            findings.add(new Finding("(cluster)", null, "tablespaces", "source has " + ta + ", restore " + tb));
        }
        List<String> ga = DumpComparator.read(a);
        List<String> gb = DumpComparator.read(b);
        ga.replaceAll(l -> l.replaceAll("LOCATION '[^']*'", "LOCATION '…'"));
        gb.replaceAll(l -> l.replaceAll("LOCATION '[^']*'", "LOCATION '…'"));
        for (int i = 0; i < Math.max(ga.size(), gb.size()); i++) {
            String x = i < ga.size() ? ga.get(i) : "(end)";
            String y = i < gb.size() ? gb.get(i) : "(end)";
            if (!x.equals(y)) {
                findings.add(new Finding(
                        "(cluster)",
                        null,
                        "pg_dumpall --globals-only",
                        "roles or tablespaces differ at line " + (i + 1) + ": source " + DumpComparator.clip(x)
                                + " / restore " + DumpComparator.clip(y)));
                break;
            }
        }
        Files.deleteIfExists(a);
        Files.deleteIfExists(b);
    }

    /** Heap and btree checks with every index entry matched against the heap (installs amcheck where missing). */
    private void amcheck() throws IOException {
        String out =
                run(restored, List.of("pg_amcheck", "--all", "--heapallindexed", "--install-missing"), "pg_amcheck");
        count("pg_amcheck runs", 1);
        if (out != null) {
            String[] lines = out.strip().split("\n");
            String shown = String.join("\n    ", Arrays.copyOf(lines, Math.min(lines.length, 30)));
            findings.add(new Finding(
                    "(all)",
                    null,
                    "pg_amcheck",
                    "corruption reported:\n    " + shown
                            + (lines.length > 30 ? "\n    … (" + lines.length + " lines)" : "")));
        }
    }

    private static void pgDump(LocalCluster pg, String db, Path file) throws IOException {
        run(pg, dumpArgs(db, file), null);
    }

    /** Large objects included; unlogged tables' data left out (a restore has none: checked by {@link #unloggedEmpty}).
     * */
    private static List<String> dumpArgs(String db, Path file) {
        return List.of("pg_dump", "--blobs", "--no-unlogged-table-data", "--no-sync", "-f", file.toString(), "-d", db);
    }

    /**
     * Runs a PostgreSQL client program against {@code pg}. Without {@code reportAs} a failure throws; with it, the
     * output of a failed run is returned (a finding) and null means success.
     */
    private static String run(LocalCluster pg, List<String> args, String reportAs) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(pg.binaries().path(args.getFirst()));
        cmd.addAll(List.of("-h", pg.socketDir().toString(), "-p", Integer.toString(pg.port()), "-U", "postgres"));
        cmd.addAll(args.subList(1, args.size()));
        var r = Processes.run(cmd, Duration.ofMinutes(20));
        if (r.exitCode() == 0) {
            return null;
        }
        if (reportAs == null) {
            throw new IOException(String.join(" ", cmd) + " failed (exit " + r.exitCode() + "):\n" + r.output());
        }
        return r.output();
    }

    private void count(String what, int n) {
        checked.merge(what, n, Integer::sum);
    }

    /**
     * Compares {@code restored} with {@code source} in a work directory named {@code name} (removed afterwards), prints
     * what was checked and returns the findings; a comparison that checked nothing is an error, not a pass.
     */
    static List<Finding> compareAndDescribe(LocalCluster source, LocalCluster restored, String name)
            throws IOException, SQLException {
        Path work = DiffCluster.workDir(name);
        ClusterComparator cmp = new ClusterComparator(source, restored, work);
        List<Finding> findings;
        try {
            findings = cmp.compare();
        } finally {
            DiffCluster.deleteTree(work);
        }
        System.out.println("checked: " + describe(cmp.checked()));
        if (cmp.checked().isEmpty()) {
            throw new IllegalStateException("the comparison of " + name + " checked nothing");
        }
        return findings;
    }

    static String describe(Map<String, Integer> checked) {
        StringBuilder sb = new StringBuilder();
        checked.forEach((k, v) ->
                sb.append(sb.isEmpty() ? "" : ", ").append(v).append(' ').append(k));
        return sb.toString();
    }
}
