package dev.lifeboat.engine.postgres.differential;

import dev.lifeboat.engine.postgres.LocalCluster;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * A randomized workload that is a pure function of its seed: every step is planned (as SQL text) from a model of
 * what exists, never from what the server answers, so a seed plans the same steps on any machine and a failing run
 * can be replayed with some steps left out (see {@link #execute}) to shrink it.
 */
final class Workload {
    /**
     * One step: SQL run in one database, in one transaction when {@code txn} (else each statement on its own), before
     * the backup at chain position {@code round}.
     */
    record Step(int index, int round, String db, boolean txn, List<String> sql) {
        @Override
        public String toString() {
            return "#" + index + " [" + db + "] " + String.join("; ", sql);
        }
    }

    /** Where the tablespace's directory goes in the SQL; the runner substitutes the source's. */
    static final String TS_LOCATION = "@TS1_LOCATION@";

    static final String TS = "ts1";

    /**
     * Index kinds: access method and column. Every access method PostgreSQL has; the comparator probes the non-btree
     * ones by column ({@link ClusterComparator#PROBES}).
     */
    static final List<String[]> INDEXES = List.of(
            new String[] {"btree", "k"},
            new String[] {"btree", "t"},
            new String[] {"hash", "k"},
            new String[] {"gist", "pt"},
            new String[] {"spgist", "pt"},
            new String[] {"spgist", "t"},
            new String[] {"gin", "arr"},
            new String[] {"gin", "doc"},
            new String[] {"gist", "doc"},
            new String[] {"brin", "id"},
            new String[] {"brin", "k"});

    private static final class Table {
        final String name;
        boolean unlogged;
        boolean inTs;
        final Map<String, Boolean> indexes = new TreeMap<>(); // name → in ts1
        String matview;

        Table(String name) {
            this.name = name;
        }
    }

    private static final class Db {
        final String name;
        final Map<String, Table> tables = new TreeMap<>();
        int largeObjects;

        Db(String name) {
            this.name = name;
        }
    }

    private final Random rnd;
    private final int rows;
    private final Map<String, Db> dbs = new LinkedHashMap<>();
    private final List<Step> planned = new ArrayList<>();
    private int tableSeq;
    private int dbSeq;
    private int salt;
    private int round;

    /** @param rows rows per insert step, about (a scale factor) */
    Workload(long seed, int rows) {
        this.rnd = new Random(seed);
        this.rows = rows;
        dbs.put("postgres", new Db("postgres"));
    }

    /** Extensions the comparison needs (in template1, so new databases have them), the tablespace, first tables. */
    List<Step> setup() {
        int start = planned.size();
        for (String db : List.of("template1", "postgres")) {
            step(db, false, "create extension if not exists pg_visibility", "create extension if not exists amcheck");
        }
        step("postgres", false, "create tablespace " + TS + " location '" + TS_LOCATION + "'");
        createTable(dbs.get("postgres"), false, false);
        createTable(dbs.get("postgres"), false, true);
        createTable(dbs.get("postgres"), true, false);
        return List.copyOf(planned.subList(start, planned.size()));
    }

    /** The steps before backup {@code position} of the chain (after the one before it). */
    List<Step> round(int position, int n) {
        round = position;
        int start = planned.size();
        while (planned.size() - start < n) {
            next(); // plans one step (or two), or none when the dice chose something impossible now
        }
        return List.copyOf(planned.subList(start, planned.size()));
    }

    List<Step> planned() {
        return planned;
    }

    private Step next() {
        List<Db> all = new ArrayList<>(dbs.values());
        Db db = rnd.nextInt(10) < 6 ? dbs.get("postgres") : all.get(rnd.nextInt(all.size()));
        List<Table> tables = new ArrayList<>(db.tables.values());
        Table t = tables.isEmpty() ? null : tables.get(rnd.nextInt(tables.size()));
        int op = rnd.nextInt(100);
        if (t == null || op < 4) {
            return db.tables.size() < 6 ? createTable(db, rnd.nextInt(5) == 0, rnd.nextInt(4) == 0) : null;
        }
        String n = t.name;
        int m = 3 + rnd.nextInt(15);
        String mod = "id % " + m + " = " + rnd.nextInt(m);
        if (op < 22) {
            return step(db.name, false, insert(n, rows / 2 + rnd.nextInt(rows / 2 + 1)));
        }
        if (op < 29) { // HOT when the page has room: t is indexed only by some kinds
            return step(db.name, false, "update " + n + " set t = md5(t || '" + (++salt) + "') where " + mod);
        }
        if (op < 35) { // non-HOT: k carries most indexes
            return step(
                    db.name,
                    false,
                    "update " + n + " set k = (k + " + (++salt) + ") % 1000, pt = point(pt[1] + 1, pt[0]) where "
                            + mod);
        }
        if (op < 38) { // TOAST churn
            return step(
                    db.name,
                    false,
                    "update " + n + " set big = repeat(md5(id::text || '" + (++salt) + "'), 100) where " + mod);
        }
        if (op < 47) {
            return step(
                    db.name,
                    false,
                    rnd.nextBoolean()
                            ? "delete from " + n + " where " + mod
                            : "delete from " + n + " where k between " + rnd.nextInt(1000) + " and " + rnd.nextInt(1000)
                                    + " and id % 2 = 0");
        }
        if (op < 52) {
            return step(db.name, false, "vacuum " + n);
        }
        if (op < 58) {
            return step(db.name, false, "vacuum (freeze) " + n);
        }
        if (op < 60) {
            return step(db.name, false, "vacuum full " + n);
        }
        if (op < 61) {
            return step(db.name, false, rnd.nextBoolean() ? "vacuum" : "vacuum (freeze)");
        }
        if (op < 63) {
            return step(db.name, false, "cluster " + n + " using " + n + "_pkey");
        }
        if (op < 65) {
            return step(db.name, false, "truncate " + n);
        }
        if (op < 67) {
            db.tables.remove(n);
            return step(db.name, false, "drop table " + n + " cascade");
        }
        if (op < 74) {
            return createIndex(db, t);
        }
        if (op < 76 && !t.indexes.isEmpty()) {
            String idx = t.indexes.keySet().stream().toList().get(rnd.nextInt(t.indexes.size()));
            t.indexes.remove(idx);
            return step(db.name, false, "drop index " + idx);
        }
        if (op < 81) {
            return largeObject(db);
        }
        if (op < 84) {
            t.inTs = !t.inTs;
            return step(db.name, false, "alter table " + n + " set tablespace " + (t.inTs ? TS : "pg_default"));
        }
        if (op < 85 && !t.indexes.isEmpty()) {
            String idx = t.indexes.keySet().stream().toList().get(rnd.nextInt(t.indexes.size()));
            boolean to = !t.indexes.get(idx);
            t.indexes.put(idx, to);
            return step(db.name, false, "alter index " + idx + " set tablespace " + (to ? TS : "pg_default"));
        }
        if (op < 91) { // row locks, often on pages just frozen: the all-frozen bit must go, all-visible stays
            String strength =
                    List.of("update", "no key update", "share", "key share").get(rnd.nextInt(4));
            List<String> sql = new ArrayList<>();
            if (rnd.nextBoolean()) {
                step(db.name, false, "vacuum (freeze) " + n);
            }
            sql.add("select count(*) from (select id from " + n + " where " + mod + " for " + strength + ") locked");
            return step(db.name, true, sql.toArray(String[]::new));
        }
        if (op < 93) {
            t.unlogged = !t.unlogged;
            return step(db.name, false, "alter table " + n + " set " + (t.unlogged ? "unlogged" : "logged"));
        }
        if (op < 95) {
            if (t.matview == null) {
                t.matview = n + "_mv";
                return step(
                        db.name,
                        false,
                        "create materialized view " + t.matview + " as select k % 10 as bucket, count(*) as n, "
                                + "max(t) as mx from " + n + " group by 1");
            }
            return step(db.name, false, "refresh materialized view " + t.matview);
        }
        if (op < 96) {
            return step(db.name, false, "checkpoint");
        }
        if (op < 97) {
            return step(db.name, false, "analyze " + n);
        }
        if (op < 99) {
            if (dbs.size() < 3) {
                Db nd = new Db("db" + (++dbSeq));
                dbs.put(nd.name, nd);
                String strategy = rnd.nextBoolean() ? "wal_log" : "file_copy";
                return step(
                        "postgres",
                        false,
                        "create database " + nd.name + " template template1 strategy " + strategy
                                + (rnd.nextInt(3) == 0 ? " tablespace " + TS : ""));
            }
            return null;
        }
        if (dbs.size() > 1) {
            Db victim = all.stream()
                    .filter(d -> !d.name.equals("postgres"))
                    .findFirst()
                    .orElseThrow();
            dbs.remove(victim.name);
            return step("postgres", false, "drop database " + victim.name);
        }
        return null;
    }

    private Step createTable(Db db, boolean unlogged, boolean inTs) {
        Table t = new Table("t" + (++tableSeq));
        t.unlogged = unlogged;
        t.inTs = inTs;
        db.tables.put(t.name, t);
        int fill = List.of(100, 90, 70).get(rnd.nextInt(3));
        return step(
                db.name,
                false,
                "create " + (unlogged ? "unlogged " : "") + "table " + t.name
                        + " (id bigint generated by default as identity primary key, "
                        + "k int not null, t text, arr int[], pt point, doc tsvector, big text) with (fillfactor = "
                        + fill + ")"
                        + (inTs ? " tablespace " + TS : ""),
                // out of line without compression: every 'big' value is a real TOAST value
                "alter table " + t.name + " alter column big set storage external",
                insert(t.name, rows));
    }

    private String insert(String table, int n) {
        int s = ++salt;
        int toastEvery = 5 + rnd.nextInt(20);
        return "insert into " + table + " (k, t, arr, pt, doc, big) select (g * 37 + " + s + ") % 1000, md5((g + " + s
                + ")::text), "
                + "array[g % 10, " + (s % 7) + ", (g * " + s + ") % 13], point(g % 100, (g * 7 + " + s + ") % 100), "
                + "to_tsvector('simple', 'w' || (g % 50) || ' w' || ((g + " + s + ") % 30)), "
                + "case when (g + " + s + ") % " + toastEvery + " = 0 then repeat(md5(g::text || '" + s
                + "'), 100) end "
                + "from generate_series(1, " + n + ") g";
    }

    private Step createIndex(Db db, Table t) {
        String[] kind = INDEXES.get(rnd.nextInt(INDEXES.size()));
        String name = t.name + "_" + kind[0] + "_" + kind[1];
        if (t.indexes.containsKey(name)) {
            return null;
        }
        boolean inTs = rnd.nextInt(3) == 0;
        t.indexes.put(name, inTs);
        String opclass = kind[1].equals("doc") && kind[0].equals("gist") ? " tsvector_ops" : "";
        return step(
                db.name,
                false,
                "create index " + (rnd.nextInt(5) == 0 ? "concurrently " : "") + name + " on " + t.name + " using "
                        + kind[0] + " (" + kind[1] + opclass + ")" + (inTs ? " tablespace " + TS : ""));
    }

    private Step largeObject(Db db) {
        int s = ++salt;
        int op = rnd.nextInt(10);
        if (db.largeObjects == 0 || op < 5) {
            db.largeObjects++;
            // from a few bytes to several 2 kB large-object pages
            int reps = rnd.nextInt(4) == 0 ? 1000 + rnd.nextInt(2000) : 1 + rnd.nextInt(100);
            return step(
                    db.name, false, "select lo_from_bytea(0, decode(repeat(md5('" + s + "'), " + reps + "), 'hex'))");
        }
        String pick = "(select oid from pg_largeobject_metadata order by oid offset " + rnd.nextInt(db.largeObjects)
                + " limit 1)";
        if (op < 8) {
            return step(
                    db.name,
                    false,
                    "select lo_put(m.oid, " + rnd.nextInt(40000) + ", decode(md5('" + s + "'), 'hex')) from " + pick
                            + " m");
        }
        db.largeObjects--;
        return step(db.name, false, "select lo_unlink(m.oid) from " + pick + " m");
    }

    private Step step(String db, boolean txn, String... sql) {
        Step s = new Step(planned.size(), round, db, txn, List.of(sql));
        planned.add(s);
        return s;
    }

    /**
     * Runs the steps not in {@code skip}. When replaying with steps left out, a step that fails (it needed one left
     * out) is logged and passed over; otherwise any failure is the workload's bug and stops the run.
     */
    static void execute(LocalCluster pg, List<Step> steps, String tsLocation, Set<Integer> skip, Consumer<String> log)
            throws SQLException {
        for (Step s : steps) {
            if (skip.contains(s.index())) {
                continue;
            }
            log.accept(s.toString());
            try (Connection c = pg.connect(s.db());
                    Statement st = c.createStatement()) {
                c.setAutoCommit(!s.txn());
                for (String sql : s.sql()) {
                    st.execute(sql.replace(TS_LOCATION, tsLocation));
                }
                if (s.txn()) {
                    c.commit();
                }
            } catch (SQLException e) {
                if (skip.isEmpty()) {
                    throw new SQLException("workload step " + s + " failed: " + e.getMessage(), e);
                }
                log.accept("    (failed, passed over: "
                        + e.getMessage().lines().findFirst().orElse("") + ")");
            }
        }
    }
}
