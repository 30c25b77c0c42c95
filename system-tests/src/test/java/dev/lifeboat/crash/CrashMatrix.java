package dev.lifeboat.crash;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.cli.Main;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.repository.ChunkIndex;
import dev.lifeboat.repository.ChunkRefs;
import dev.lifeboat.repository.PackedChunk;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.faults.CrashPoints;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Json;
import dev.lifeboat.util.Processes;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What the crash matrix classes share: the size of the run, how crash points are chosen, running {@code lifeboat} in
 * a JVM of its own with a crash point set (the {@code LIFEBOAT_CRASH_*} hooks, see {@link CrashPoints}), and the
 * outcome checks a user would make afterwards.
 * <p>
 * Size: the CI slice by default; the full matrix with {@code -Dlifeboat.crash.matrix=full} or
 * {@code LIFEBOAT_CRASH_MATRIX=full} (bench/crash-matrix.sh).
 */
final class CrashMatrix {
    private CrashMatrix() {}

    static final boolean FULL = "full"
            .equalsIgnoreCase(System.getProperty(
                    "lifeboat.crash.matrix", System.getenv().getOrDefault("LIFEBOAT_CRASH_MATRIX", "ci")));

    /** One line per point, for bench/crash-matrix.sh to summarise. */
    private static final Path REPORT = Path.of(System.getProperty("lifeboat.crash.report", "target/crash-matrix.txt"));

    enum Mode {
        /** halt right before the n-th write starts */
        BEFORE(CrashPoints.BEFORE_WRITE),
        /** halt right after the n-th write returned */
        AFTER(CrashPoints.AFTER_WRITES),
        /** halt right after the n-th finished file (restore) */
        AFTER_FILE(CrashPoints.AFTER_FILES);

        final String variable;

        Mode(String variable) {
            this.variable = variable;
        }
    }

    /**
     * A crash point: where in the numbered writes (or files) of one operation the process halts. With {@code keys},
     * only writes under those key prefixes are counted, which names a phase exactly (e.g. before the manifest) even
     * when the number of pack writes varies from run to run; {@code name} then says what it is.
     */
    record Point(Mode mode, int n, int of, String keys, String name) {
        Point(Mode mode, int n, int of) {
            this(mode, n, of, null, null);
        }

        /** A point counted over the writes under {@code keys} only. */
        static Point keyed(Mode mode, int n, String keys, String name) {
            return new Point(mode, n, -1, keys, name);
        }

        Map<String, String> env() {
            return keys == null
                    ? Map.of(mode.variable, Integer.toString(n))
                    : Map.of(mode.variable, Integer.toString(n), CrashPoints.KEYS, keys);
        }

        String label() {
            if (name != null) {
                return name;
            }
            return switch (mode) {
                case BEFORE -> "before write " + n + " of " + of;
                case AFTER -> "after write " + n + " of " + of;
                case AFTER_FILE -> "after file " + n + " of " + of;
            };
        }

        String dirName() {
            return mode.name().toLowerCase() + "-" + n
                    + (keys == null ? "" : "-" + keys.toLowerCase().replaceAll("[^a-z]", ""));
        }

        @Override
        public String toString() {
            return label();
        }
    }

    /**
     * {@code count} crash points over the {@code total} writes of a clean run: after the first write and before the
     * last one (everything but the last write done), and {@code count - 2} in between, spread evenly, alternating
     * after/before; every boundary when there are no more than {@code count}.
     */
    static List<Point> writePoints(int total, int count) {
        if (total < 1) {
            throw new AssertionError("a clean run made no write: nothing to crash");
        }
        LinkedHashMap<String, Point> out = new LinkedHashMap<>();
        if (2 * total <= count) {
            for (int n = 1; n <= total; n++) {
                add(out, new Point(Mode.BEFORE, n, total));
                add(out, new Point(Mode.AFTER, n, total));
            }
        } else {
            add(out, new Point(Mode.AFTER, 1, total));
            int inner = Math.max(0, count - 2);
            for (int i = 1; i <= inner; i++) {
                int n = (int) Math.round(1 + (double) i * (total - 1) / (inner + 1));
                add(out, new Point(i % 2 == 1 ? Mode.AFTER : Mode.BEFORE, n, total));
            }
            add(out, new Point(Mode.BEFORE, total, total));
        }
        List<Point> points = new ArrayList<>(out.values());
        points.sort(Comparator.comparingInt((Point p) -> p.n() * 2 + (p.mode() == Mode.AFTER ? 1 : 0)));
        return points;
    }

    private static void add(Map<String, Point> out, Point p) {
        if (p.n() >= 1 && p.n() <= p.of()) {
            out.putIfAbsent(p.label(), p);
        }
    }

    /** The problem when an operation finished (or failed) without reaching its crash point. */
    static String notReached(Point p, Run r) {
        return "the crash point was not reached" + (p.of() > 0 ? " (a clean run made " + p.of() + " writes/files)" : "")
                + ": " + r.describe();
    }

    /** {@code count} file numbers spread evenly over 1..total, the first and the last included. */
    static List<Point> filePoints(int total, int count) {
        TreeSet<Integer> ns = new TreeSet<>();
        for (int i = 0; i < count; i++) {
            ns.add((int) Math.round(1 + (double) i * (total - 1) / Math.max(1, count - 1)));
        }
        return ns.stream().map(n -> new Point(Mode.AFTER_FILE, n, total)).toList();
    }

    // ---- running lifeboat in a JVM of its own -------------------------------------------------------------------

    /**
     * A finished {@code lifeboat} process: its exit code, output, and the lines the crash hooks logged (one per
     * counted write or file, and the crash).
     */
    record Run(String what, int exitCode, String output, List<String> log) {
        boolean crashed() {
            return exitCode == CrashPoints.EXIT_CODE && crashLine() != null;
        }

        String crashLine() {
            return log.stream()
                    .filter(l -> l.contains(" crash "))
                    .findFirst()
                    .map(l -> l.substring(l.indexOf(" crash ") + 1))
                    .orElse(null);
        }

        /** Completed writes, as "put data/ab/…" (op and key), in order. */
        List<String> writes() {
            List<String> out = new ArrayList<>();
            for (String l : log) {
                String[] f = l.split(" ");
                if (f.length >= 5 && f[1].equals("write")) {
                    out.add(f[3] + " " + f[4]);
                }
            }
            return out;
        }

        long files() {
            return log.stream()
                    .filter(l -> l.split(" ").length > 1 && l.split(" ")[1].equals("file"))
                    .count();
        }

        String describe() {
            List<String> w = writes();
            String tail = output.length() > 3000 ? "…" + output.substring(output.length() - 3000) : output;
            return what + " exited " + exitCode + (crashLine() == null ? "" : " (" + crashLine() + ")") + "; "
                    + w.size() + " write(s) completed"
                    + (w.isEmpty()
                            ? ""
                            : ", the last: " + String.join(", ", w.subList(Math.max(0, w.size() - 4), w.size())))
                    + "\n--- its output:\n" + tail.strip();
        }
    }

    /** The java command that runs the CLI with the test class path (and the postgres-readable launcher, if installed).
     * */
    static List<String> javaCommand() {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                "-Xmx1g",
                "--enable-native-access=ALL-UNNAMED"));
        String launcher = System.getProperty("lifeboat.launcher");
        if (launcher != null) {
            // restore_command and background helpers of this process must be runnable by the postgres user
            cmd.add("-Dlifeboat.launcher=" + launcher);
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        cmd.add(Main.class.getName());
        return cmd;
    }

    /** Starts {@code lifeboat args…} with these crash variables (and a crash log); output goes to {@code dir/name.out}.
     * */
    static Process start(Path dir, String name, Map<String, String> env, String... args) throws IOException {
        Files.createDirectories(dir);
        List<String> cmd = javaCommand();
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".out").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().keySet().removeIf(k -> k.startsWith("LIFEBOAT_CRASH_"));
        pb.environment().putAll(env);
        pb.environment().put(CrashPoints.LOG, dir.resolve(name + ".crashlog").toString());
        return pb.start();
    }

    static Run finish(Path dir, String name, String what, Process p, Duration timeout) throws Exception {
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            p.waitFor();
            throw new AssertionError(
                    what + " did not finish within " + timeout + ":\n" + read(dir.resolve(name + ".out")));
        }
        return new Run(what, p.exitValue(), read(dir.resolve(name + ".out")), lines(dir.resolve(name + ".crashlog")));
    }

    static Run run(Path dir, String name, Map<String, String> env, Duration timeout, String... args) throws Exception {
        return finish(dir, name, "lifeboat " + args[0] + " (" + name + ")", start(dir, name, env, args), timeout);
    }

    static String read(Path p) throws IOException {
        return Files.exists(p) ? Files.readString(p) : "";
    }

    static List<String> lines(Path p) throws IOException {
        return Files.exists(p) ? Files.readAllLines(p) : List.of();
    }

    // ---- outcome checks ------------------------------------------------------------------------------------------

    /** Problems found at one crash point; the point fails with all of them and what the crashed process did. */
    static final class Findings {
        private final String point;
        private final List<String> problems = new ArrayList<>();
        private final List<String> notes = new ArrayList<>();
        private final long t0 = System.nanoTime();
        private Run crashed;

        Findings(String point) {
            this.point = point;
        }

        void crashed(Run r) {
            this.crashed = r;
        }

        void problem(String what) {
            problems.add(what);
        }

        void note(String what) {
            notes.add(what);
        }

        /** Records a failed CLI step as a problem; returns whether it succeeded. */
        boolean expectOk(String step, CliResult r) {
            if (r.exitCode() != 0) {
                problem(step + " failed (exit " + r.exitCode() + "): " + r.all().strip());
                return false;
            }
            return true;
        }

        /** Records a failed check (an AssertionError or an exception of a step) as a problem instead of stopping. */
        void attempt(String step, ThrowingRunnable r) {
            try {
                r.run();
            } catch (Throwable t) {
                problem(step + ": " + (t.getMessage() == null ? t.toString() : t.getMessage()));
            }
        }

        void done() {
            double secs = (System.nanoTime() - t0) / 1e9;
            String line = String.format(
                    "%s: %s in %.1f s%s%s",
                    point,
                    problems.isEmpty() ? "ok" : "FAILED (" + problems.size() + " problem(s))",
                    secs,
                    crashed == null || crashed.crashLine() == null ? "" : "; " + crashed.crashLine(),
                    notes.isEmpty() ? "" : "; " + String.join("; ", notes));
            System.out.println("[crash-matrix] " + line);
            report(line);
            if (!problems.isEmpty()) {
                StringBuilder sb = new StringBuilder(point)
                        .append(": ")
                        .append(problems.size())
                        .append(" problem(s) after the crash\n");
                for (String p : problems) {
                    sb.append(" - ").append(p.replace("\n", "\n   ")).append('\n');
                }
                if (crashed != null) {
                    sb.append("The crashed process: ")
                            .append(crashed.describe())
                            .append('\n');
                }
                for (String p : problems) {
                    report("    - " + p.lines().findFirst().orElse(""));
                }
                throw new AssertionError(sb.toString());
            }
        }
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Exception;
    }

    static synchronized void report(String line) {
        try {
            Files.createDirectories(REPORT.toAbsolutePath().getParent());
            Files.writeString(
                    REPORT,
                    Instant.now() + " " + line + "\n",
                    StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            System.err.println("cannot write " + REPORT + ": " + e.getMessage());
        }
    }

    /** The ids of the backups {@code lifeboat list} shows, oldest first. */
    static List<String> listed(String uri, Path keyFile) {
        CliResult r = PgTestSupport.cli("list", "--repo", uri, "--key-file", keyFile.toString(), "--json");
        if (r.exitCode() != 0) {
            throw new AssertionError("lifeboat list failed: " + r.all());
        }
        try {
            List<String> ids = new ArrayList<>();
            for (JsonNode b : Json.MAPPER.readTree(r.out()).get("backups")) {
                ids.add(b.get("id").asText());
            }
            return ids;
        } catch (IOException e) {
            throw new AssertionError("lifeboat list --json printed no JSON: " + r.out(), e);
        }
    }

    /** `verify --read-data` over every backup; a problem names what it found. */
    static void verifyReadData(Findings f, String step, String uri, Path keyFile) {
        CliResult v = PgTestSupport.cli("verify", "--repo", uri, "--key-file", keyFile.toString(), "--read-data", "-q");
        if (v.exitCode() != 0) {
            f.problem(step + ": `verify --read-data` exit " + v.exitCode() + ":\n"
                    + v.all().strip());
        }
    }

    /**
     * What gc is there to remove: packs under data/ that hold no chunk a listed backup uses, and packs the index names
     * that are gone (a later backup would dedup against chunks that no longer exist). Read-only.
     */
    record Leftovers(List<String> unusedPacks, List<String> indexedButMissing, int temporaryFiles) {
        boolean clean() {
            return unusedPacks.isEmpty() && indexedButMissing.isEmpty();
        }

        @Override
        public String toString() {
            return unusedPacks.size() + " pack(s) no backup uses " + abbreviate(unusedPacks) + ", "
                    + indexedButMissing.size()
                    + " pack(s) the index names but that do not exist " + abbreviate(indexedButMissing) + ", "
                    + temporaryFiles + " temporary file(s)";
        }
    }

    static String abbreviate(List<String> xs) {
        return xs.isEmpty()
                ? ""
                : xs.subList(0, Math.min(3, xs.size())).stream()
                                .map(s -> s.substring(0, Math.min(12, s.length())))
                                .toList()
                        + (xs.size() > 3 ? "…" : "");
    }

    static Leftovers leftovers(Path repoDir, Path keyFile) throws IOException {
        LocalBlobStore store = new LocalBlobStore(repoDir);
        Repository repo = Repository.open(store, KeySource.KeyFile.read(keyFile));
        ChunkIndex index = repo.loadIndex();
        Set<String> used = new HashSet<>();
        for (Snapshot s : repo.loadSnapshots()) {
            for (Snapshot.FileEntry fe : s.files()) {
                if (fe.chunks() == null) {
                    continue;
                }
                for (String ref : fe.chunks()) {
                    for (var id : ChunkRefs.ids(ref)) {
                        PackedChunk c = index.get(id);
                        if (c != null) {
                            used.add(c.packId());
                        }
                    }
                }
            }
        }
        Set<String> present = new TreeSet<>();
        for (BlobInfo b : repo.listPacks()) {
            present.add(Repository.packIdOf(b.key()));
        }
        List<String> unused = present.stream().filter(p -> !used.contains(p)).toList();
        List<String> missing = new TreeSet<>(index.packSizes().keySet())
                .stream().filter(p -> !present.contains(p)).toList();
        int temps;
        try (Stream<Path> w = Files.walk(repoDir)) {
            temps = (int) w.filter(p -> p.getFileName().toString().endsWith(".lifeboat-tmp"))
                    .count();
        }
        return new Leftovers(unused, missing, temps);
    }

    /** The lock objects under locks/ (a dead process's stale lock is harmless, but shows in `unlock` and status). */
    static List<String> locks(Path repoDir) throws IOException {
        Path dir = repoDir.resolve("locks");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> !n.endsWith(".lifeboat-tmp"))
                    .sorted()
                    .toList();
        }
    }

    /** Gives the postgres user (archive_command, restore_command) the repository. */
    static void shareWithPostgres(Path dir) throws IOException {
        if (Processes.isRoot()) {
            Processes.check(List.of("chown", "-R", "postgres", dir.toString()), Duration.ofSeconds(60));
        }
    }

    static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        Processes.check(List.of("cp", "-a", from.toString(), to.toString()), Duration.ofMinutes(2));
    }

    static void deleteTree(Path dir) throws IOException {
        if (Files.exists(dir)) {
            Processes.check(List.of("rm", "-rf", dir.toString()), Duration.ofMinutes(2));
        }
    }

    /**
     * Restores a backup with the CLI into {@code base/data} (no --validate: the server itself is started), starts it,
     * and returns {@code select count(*) from ids}. The copy is stopped and deleted afterwards.
     */
    static long restoreAndCount(String uri, Path keyFile, Path base, String backup, String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of(
                "restore",
                "--repo",
                uri,
                "--key-file",
                keyFile.toString(),
                "--target",
                base.resolve("data").toString(),
                "--backup",
                backup,
                "-q"));
        args.addAll(List.of(extra));
        CliResult r = PgTestSupport.cli(args.toArray(String[]::new));
        if (r.exitCode() != 0) {
            throw new AssertionError("restore of backup " + backup + " failed (exit " + r.exitCode() + "): "
                    + r.all().strip());
        }
        try (LocalCluster copy = LocalCluster.attach(base)) {
            copy.start();
            return PgTestSupport.count(copy, "select count(*) from ids");
        } catch (IOException | SQLException e) {
            throw new AssertionError(
                    "the copy restored from backup " + backup + " does not start or cannot be read: " + e.getMessage()
                            + serverLog(base),
                    e);
        } finally {
            deleteTree(base);
        }
    }

    static String serverLog(Path base) throws IOException {
        Path log = base.resolve("run").resolve("server.log");
        if (!Files.exists(log)) {
            return "";
        }
        String s = Files.readString(log);
        return "\n--- server log:\n" + s.substring(Math.max(0, s.length() - 3000));
    }

    // ---- the database ------------------------------------------------------------------------------------------

    /** {@code ids} (1..rows, the rows restores are checked against) and {@code noise}: about {@code mb} MiB that do not
     * compress. */
    static void seed(LocalCluster pg, int rows, int mb) throws SQLException {
        PgTestSupport.exec(
                pg,
                "create table ids (id bigint primary key)",
                "insert into ids select generate_series(1, " + rows + ")",
                "create table noise (id int primary key, b bytea)",
                "insert into noise select g, " + randomBytes("g") + " from generate_series(1, " + mb * 1000 + ") g",
                "checkpoint");
    }

    private static String randomBytes(String salt) {
        // ~1 KB per row of md5 output: does not compress, so it fills packs
        return "(select string_agg(decode(md5(random()::text || " + salt + "::text || x::text), 'hex'), ''::bytea) "
                + "from generate_series(1, 60) x)";
    }

    /** Rewrites about {@code mb} MiB of noise (the first rows), so the next backup has that much new data. */
    static void churn(LocalCluster pg, int mb) throws SQLException {
        PgTestSupport.exec(pg, "update noise set b = " + randomBytes("id") + " where id <= " + mb * 1000, "checkpoint");
    }

    /** Adds {@code n} rows to ids; returns the new count. */
    static long addIds(LocalCluster pg, int n) throws SQLException {
        PgTestSupport.exec(
                pg,
                "insert into ids select m + g from (select coalesce(max(id), 0) m from ids) s, generate_series(1, " + n
                        + ") g");
        return PgTestSupport.count(pg, "select count(*) from ids");
    }

    static String one(LocalCluster pg, String sql) throws SQLException {
        try (Connection c = pg.connect("postgres");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    static Map<String, String> env(Object... kv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i].toString(), kv[i + 1].toString());
        }
        return m;
    }
}
