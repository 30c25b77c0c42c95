package dev.lifeboat.bench;

import dev.lifeboat.engine.postgres.LocalCluster;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Realistic benchmark input: the bytes of PostgreSQL heap relation files (8 KiB pages with tuple headers, line
 * pointers,
 * free space and hint bits), not random bytes.
 *
 * <p>Two data sets:
 * <ul>
 * <li>{@code pgbench}: the heap of {@code pgbench_accounts} (and the other pgbench tables) after {@code pgbench
 * -i};</li>
 *   <li>{@code realistic}: an {@code orders} table of timestamps, numerics and varied text.</li>
 * </ul>
 *
 * <p>Where the bytes come from:
 * <ul>
 * <li>{@code -Dlifeboat.bench.pgdata.<dataset>=DIR} or {@code -Dlifeboat.bench.pgdata=DIR} (both data sets): the
 * main-fork
 *       relation files found under DIR (e.g. a cluster's {@code base/}), largest first;</li>
 *   <li>otherwise a throwaway PostgreSQL 15 cluster ({@link LocalCluster}) is created, filled with both data sets,
 *       checkpointed and stopped; the tables' files are read, and the cluster is deleted. The bytes are kept in a cache
 *       directory ({@code -Dlifeboat.bench.cache=DIR}, default {@code $TMPDIR/lifeboat-bench-data};
 *       {@code -Dlifeboat.bench.cache=off} to keep nothing) so that each JMH fork does not build its own cluster.</li>
 * </ul>
 * The size is {@code -Dlifeboat.bench.bytes} (default 1 GiB; suffixes k, m, g), rounded down to whole
 * {@link Sizes#SLICE slices}; a smaller size (e.g. {@code 64m}) makes quick runs.
 */
public final class PgHeapData {
    public static final String PGBENCH = "pgbench";
    public static final String REALISTIC = "realistic";
    private static final String CACHE_VERSION = "v1";
    /** pgbench_accounts heap bytes per scale unit (1640 pages of 8 KiB for 100,000 rows), a little low to be safe. */
    private static final double PGBENCH_BYTES_PER_SCALE = 12.5e6;
    /** Main-fork relation file or segment: relfilenode (at most 10 digits, unlike a WAL segment name) and segment
     * number. */
    private static final Pattern RELATION_FILE = Pattern.compile("[0-9]{1,10}(\\.[0-9]+)?");

    private PgHeapData() {}

    /** The configured data-set size in bytes, a whole number of slices. */
    public static int configuredBytes() {
        long want = parseSize(System.getProperty("lifeboat.bench.bytes", "1g"));
        long max = (Integer.MAX_VALUE - 64L) / Sizes.SLICE * Sizes.SLICE;
        long n = Math.min(max, want / Sizes.SLICE * Sizes.SLICE);
        if (n < Sizes.SLICE) {
            throw new IllegalArgumentException(
                    "lifeboat.bench.bytes=" + want + " is smaller than one slice (" + Sizes.SLICE + " bytes)");
        }
        return (int) n;
    }

    static long parseSize(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT).replace("ib", "").replace("b", "");
        long mult = 1;
        if (t.endsWith("k")) {
            mult = 1L << 10;
        } else if (t.endsWith("m")) {
            mult = 1L << 20;
        } else if (t.endsWith("g")) {
            mult = 1L << 30;
        }
        if (mult != 1) {
            t = t.substring(0, t.length() - 1);
        }
        return Math.round(Double.parseDouble(t) * mult);
    }

    /** Loads {@code bytes} bytes of heap pages of the named data set (see the class comment for where they come from).
     * */
    public static byte[] load(String dataset, int bytes) throws IOException {
        if (!dataset.equals(PGBENCH) && !dataset.equals(REALISTIC)) {
            throw new IllegalArgumentException(
                    "unknown data set '" + dataset + "'; use " + PGBENCH + " or " + REALISTIC);
        }
        String dir =
                System.getProperty("lifeboat.bench.pgdata." + dataset, System.getProperty("lifeboat.bench.pgdata"));
        if (dir != null && !dir.isBlank()) {
            return fromRelationFiles(
                    relationFiles(Path.of(dir)), bytes, dataset + " (relation files under " + dir + ")");
        }
        String cacheProp = System.getProperty("lifeboat.bench.cache", "");
        boolean keep = !cacheProp.equals("off");
        Path cache = keep && !cacheProp.isBlank()
                ? Path.of(cacheProp)
                : keep
                        ? Path.of(System.getProperty("java.io.tmpdir"), "lifeboat-bench-data")
                        : Files.createTempDirectory("lifeboat-bench-data-");
        try {
            Path file = cache.resolve(dataset + "-" + bytes + "." + CACHE_VERSION + ".heap");
            if (!Files.isRegularFile(file) || Files.size(file) != bytes) {
                generate(cache, bytes);
            } else {
                log("using cached " + dataset + " heap pages from " + file + " (delete it to regenerate)");
            }
            return Files.readAllBytes(file);
        } finally {
            if (!keep) {
                deleteTree(cache);
            }
        }
    }

    /** Creates a throwaway cluster with both data sets and writes {@code <dataset>-<bytes>.v1.heap} for each into
     * {@code cache}. */
    static void generate(Path cache, int bytes) throws IOException {
        Files.createDirectories(cache);
        Path base = Files.createTempDirectory("lifeboat-bench-pg-");
        long t0 = System.nanoTime();
        log("creating a throwaway PostgreSQL cluster in " + base + " for " + (bytes >> 20)
                + " MiB of heap pages per data set");
        try (LocalCluster pg = LocalCluster.create(
                base.resolve("cluster"),
                List.of(
                        "fsync = off",
                        "synchronous_commit = off",
                        "full_page_writes = off",
                        "max_wal_size = 8GB",
                        "checkpoint_timeout = 1h",
                        "autovacuum = off"))) {
            pg.start();
            int scale = (int) Math.ceil(bytes / PGBENCH_BYTES_PER_SCALE) + 1;
            // init steps: drop, tables, client-side generate, vacuum (sets hint bits and the visibility map, as after a
            // real load); no primary keys: only heap pages are read
            pg.pgbench(List.of("-i", "-s", Integer.toString(scale), "-q", "-I", "dtgv"), Duration.ofMinutes(60));
            log(String.format("pgbench -i -s %d done (%.0f s)", scale, (System.nanoTime() - t0) / 1e9));
            Map<String, List<String>> tables = new LinkedHashMap<>();
            try (Connection c = pg.connect("postgres");
                    Statement st = c.createStatement()) {
                fillRealistic(st, bytes);
                st.execute("vacuum analyze orders");
                st.execute("checkpoint");
                tables.put(
                        PGBENCH,
                        relationPaths(
                                st, "pgbench_accounts", "pgbench_history", "pgbench_tellers", "pgbench_branches"));
                tables.put(REALISTIC, relationPaths(st, "orders"));
            }
            log(String.format("realistic table loaded (%.0f s)", (System.nanoTime() - t0) / 1e9));
            pg.stop(); // shutdown checkpoint: every page is in the files
            for (var e : tables.entrySet()) {
                List<Path> files = new ArrayList<>();
                for (String rel : e.getValue()) {
                    Path first = pg.dataDir().resolve(rel);
                    files.addAll(segments(first));
                }
                byte[] data = fromRelationFiles(files, bytes, e.getKey());
                Path out = cache.resolve(e.getKey() + "-" + bytes + "." + CACHE_VERSION + ".heap");
                Path tmp = cache.resolve(
                        "." + out.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
                Files.write(tmp, data);
                try {
                    Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException x) {
                    Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (SQLException e) {
            throw new IOException("filling the benchmark cluster failed: " + e.getMessage(), e);
        } finally {
            deleteTree(base);
        }
        log(String.format(
                "heap pages ready in %s (%.0f s); the throwaway cluster is deleted",
                cache, (System.nanoTime() - t0) / 1e9));
    }

    /** Orders with timestamps, numerics and varied text, grown until the heap holds at least {@code bytes}. */
    private static void fillRealistic(Statement st, long bytes) throws SQLException {
        String select =
                "select g as id, now() - random() * interval '365 days' as at, (random() * 10000)::numeric(12,2) as "
                        + "amount, "
                        + "md5(g::text) || ' ' || (array['shipped','pending','cancelled','returned'])[1 + (g %% 4)] as "
                        + "note "
                        + "from generate_series(%d, %d) g";
        long probe = 200_000;
        st.execute("drop table if exists orders");
        st.execute("create table orders as " + String.format(select, 1, probe));
        long size = relationSize(st, "orders");
        long rows = (long) Math.ceil((double) bytes / size * probe * 1.02) + 1000;
        if (rows > probe) {
            st.execute("insert into orders " + String.format(select, probe + 1, rows));
        }
        while (relationSize(st, "orders") < bytes) { // the estimate was short: add 5% more
            long more = rows / 20 + 1000;
            st.execute("insert into orders " + String.format(select, rows + 1, rows + more));
            rows += more;
        }
    }

    private static long relationSize(Statement st, String table) throws SQLException {
        try (ResultSet rs = st.executeQuery("select pg_relation_size('" + table + "')")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static List<String> relationPaths(Statement st, String... tables) throws SQLException {
        List<String> out = new ArrayList<>();
        for (String t : tables) {
            try (ResultSet rs = st.executeQuery("select pg_relation_filepath('" + t + "')")) {
                rs.next();
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    /** The file and its 1 GiB segments {@code .1}, {@code .2}, … in order. */
    private static List<Path> segments(Path first) {
        List<Path> out = new ArrayList<>();
        if (Files.isRegularFile(first)) {
            out.add(first);
        }
        for (int i = 1; ; i++) {
            Path p = first.resolveSibling(first.getFileName() + "." + i);
            if (!Files.isRegularFile(p)) {
                return out;
            }
            out.add(p);
        }
    }

    /** Main-fork relation files under {@code dir} (pg_wal skipped), largest relation first, segments in order. */
    static List<Path> relationFiles(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException("lifeboat.bench.pgdata: " + dir + " is not a directory");
        }
        List<Path> found = new ArrayList<>();
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
                return d.getFileName() != null && d.getFileName().toString().equals("pg_wal")
                        ? FileVisitResult.SKIP_SUBTREE
                        : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
                if (attrs.isRegularFile()
                        && attrs.size() > 0
                        && RELATION_FILE.matcher(f.getFileName().toString()).matches()) {
                    found.add(f);
                }
                return FileVisitResult.CONTINUE;
            }
        });
        // group segments by relation, biggest relation first
        Map<Path, List<Path>> byRelation = new LinkedHashMap<>();
        for (Path f : found) {
            String name = f.getFileName().toString();
            int dot = name.indexOf('.');
            Path rel = dot < 0 ? f : f.resolveSibling(name.substring(0, dot));
            byRelation.computeIfAbsent(rel, k -> new ArrayList<>()).add(f);
        }
        Comparator<Path> bySegment = Comparator.comparingInt(p -> {
            String n = p.getFileName().toString();
            int dot = n.indexOf('.');
            return dot < 0 ? 0 : Integer.parseInt(n.substring(dot + 1));
        });
        List<List<Path>> relations = new ArrayList<>(byRelation.values());
        relations.forEach(l -> l.sort(bySegment));
        relations.sort(Comparator.comparingLong(
                        (List<Path> l) -> l.stream().mapToLong(PgHeapData::size).sum())
                .reversed()
                .thenComparing(l -> l.getFirst().toString()));
        return relations.stream().flatMap(List::stream).toList();
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Concatenates the files until {@code bytes}; if they hold less, the whole slices they fill. */
    static byte[] fromRelationFiles(List<Path> files, int bytes, String what) throws IOException {
        byte[] out = new byte[bytes];
        int pos = 0;
        for (Path f : files) {
            if (pos == bytes) {
                break;
            }
            try (InputStream in = Files.newInputStream(f)) {
                pos += in.readNBytes(out, pos, bytes - pos);
            }
        }
        if (pos < bytes) {
            int usable = pos / Sizes.SLICE * Sizes.SLICE;
            if (usable == 0) {
                throw new IOException(what + ": the relation files hold only " + pos + " bytes, less than one slice ("
                        + Sizes.SLICE + ")");
            }
            log(what + ": the relation files hold only " + pos + " bytes; using " + usable);
            out = Arrays.copyOf(out, usable);
            pos = usable;
        }
        log(String.format("%s: %d MiB of heap pages loaded", what, pos >> 20));
        return out;
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    static void log(String msg) {
        System.err.println("[lifeboat-bench] " + msg);
    }
}
