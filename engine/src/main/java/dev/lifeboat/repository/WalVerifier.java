package dev.lifeboat.repository;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.engine.postgres.PgBinaries;
import dev.lifeboat.engine.postgres.RecoveryPlanner;
import dev.lifeboat.engine.postgres.TimelineHistory;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.progress.ProgressTracker;
import dev.lifeboat.storage.BlobInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The WAL half of {@code verify}: what a recovery would miss in the archive (per timeline, segments missing from the
 * end of the oldest backup on it to the newest archived segment, found by {@link RecoveryPlanner#windows()}, and
 * history files every timeline needs); with {@code readData}, every WAL object is read, authenticated and
 * decompressed, every segment's page headers are checked against its name and the backups' cluster, and every
 * record is checked (CRC included) by PostgreSQL's pg_waldump over each timeline's contiguous runs of segments.
 */
public final class WalVerifier {
    /** Segments handed to one pg_waldump run (consecutive runs overlap by one, so no record falls between them). */
    static final int BATCH = 16;
    /** Header problems named per segment before the rest is left out. */
    private static final int ISSUES_PER_SEGMENT = 3;

    private static final int XLP_LONG_HEADER = 0x0002;
    private static final int XLP_ALL_FLAGS = 0x000F;
    private static final int SHORT_HEADER = 24;
    /** XLOG_PAGE_MAGIC per major version (access/xlog_internal.h); unknown versions are left to pg_waldump. */
    private static final Map<String, Integer> PAGE_MAGIC =
            Map.of("12", 0xD101, "13", 0xD106, "14", 0xD10D, "15", 0xD110, "16", 0xD113, "17", 0xD116);
    /** pg_waldump's words for "the WAL ends here": zeros, a recycled page or record, nothing more to read. */
    private static final Pattern END_OF_WAL = Pattern.compile("invalid record length at .*: wanted \\d+, got 0"
            + "|invalid magic number 0000|unexpected pageaddr|record with incorrect prev-link|could not find a "
            + "valid record");

    private static final Pattern SEGMENT_NAME = Pattern.compile("\\b([0-9A-F]{24})\\b");
    private static final Pattern LSN = Pattern.compile("\\b([0-9A-F]{1,8}/[0-9A-F]{1,8})\\b");

    /**
     * @param timelines              timelines with archived WAL
     * @param filesRead              WAL objects read and authenticated ({@code readData})
     * @param segmentsRecordsChecked segments whose records pg_waldump checked
     * @param seconds                time the WAL check took
     * @param notes                  what could not be checked here and why (not problems of the repository)
     */
    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    public record Summary(
            List<Integer> timelines,
            int segments,
            int partials,
            int historyFiles,
            int otherFiles,
            long filesRead,
            long bytesRead,
            int segmentsRecordsChecked,
            double seconds,
            List<String> notes) {}

    public record Result(Summary summary, List<Verifier.Problem> problems) {}

    private final Repository repo;
    private final WalArchive archive;

    public WalVerifier(Repository repo) {
        this.repo = repo;
        this.archive = new WalArchive(repo);
    }

    /** One archived segment (or the {@code .partial} that ends a timeline) in a run. */
    private record Seg(int timeline, long number, String name, boolean partial) {
        String segmentName() {
            return name.substring(0, 24);
        }
    }

    private final List<Verifier.Problem> problems = Collections.synchronizedList(new ArrayList<>());
    private final List<String> notes = Collections.synchronizedList(new ArrayList<>());
    /** Stored (sealed, compressed) size of every WAL object, for progress and the bytes-read count. */
    private final Map<String, Long> sizes = new HashMap<>();

    /** @param snapshots every backup in the repository (their cluster and WAL geometry, and where recovery starts) */
    public Result verify(
            List<Snapshot> snapshots, boolean readData, int parallel, ProgressListener listener, Cancellation cancel)
            throws IOException {
        long t0 = System.nanoTime();
        List<BlobInfo> objects = archive.listObjects();
        long segSize = snapshots.isEmpty() || snapshots.getLast().engineInfo().walSegmentSize() == 0
                ? 16L << 20
                : snapshots.getLast().engineInfo().walSegmentSize();
        Map<Integer, TreeSet<Long>> segments = new TreeMap<>();
        Map<Integer, TreeSet<Long>> partials = new TreeMap<>();
        Map<Integer, String> histories = new TreeMap<>();
        List<String> others = new ArrayList<>();
        List<String> foreign = new ArrayList<>();
        for (BlobInfo b : objects) {
            String name = b.key().substring(b.key().lastIndexOf('/') + 1);
            sizes.put(name, b.size());
            if (WalArchive.isSegment(name)) {
                segments.computeIfAbsent(timeline(name), k -> new TreeSet<>())
                        .add(WalArchive.segmentNumber(name, segSize));
            } else if (WalArchive.isPartial(name)) {
                partials.computeIfAbsent(timeline(name), k -> new TreeSet<>())
                        .add(WalArchive.segmentNumber(name, segSize));
            } else if (WalArchive.isHistory(name)) {
                histories.put(timeline(name), name);
            } else if (WalArchive.isWalFileName(name)) {
                others.add(name); // backup history files
            } else {
                foreign.add(b.key());
            }
        }
        if (!foreign.isEmpty()) {
            notes.add("ignored " + foreign.size() + " object(s) under wal/ that are not WAL file names, e.g. "
                    + foreign.getFirst());
        }
        TreeSet<Integer> timelines = new TreeSet<>(segments.keySet());
        timelines.addAll(partials.keySet());
        if (objects.isEmpty()) {
            notes.add("the WAL archive is empty: backups restore on their own, without point-in-time recovery");
            return new Result(
                    new Summary(List.of(), 0, 0, 0, 0, 0, 0, 0, (System.nanoTime() - t0) / 1e9, List.copyOf(notes)),
                    List.of());
        }

        checkGaps(snapshots, segments, segSize);
        // a timeline after the first is only followed back to its parent through its history file
        TreeSet<Integer> needHistory = new TreeSet<>(timelines);
        snapshots.forEach(s -> needHistory.add(timelineOf(s)));
        for (int tli : needHistory) {
            if (tli > 1 && !histories.containsKey(tli)) {
                String name = TimelineHistory.fileName(tli);
                problems.add(Verifier.Problem.wal(
                        tli,
                        name,
                        "timeline " + tli + " has archived WAL or backups but its history "
                                + "file is not archived, so a recovery cannot follow it back to its parent timeline; "
                                + "push "
                                + "pg_wal/" + name
                                + " from the server that created the timeline with `lifeboat wal-push`"));
            }
        }

        AtomicLong filesRead = new AtomicLong();
        AtomicInteger recordsChecked = new AtomicInteger();
        long bytes = 0;
        if (readData) {
            foreign.forEach(k -> sizes.remove(k.substring(k.lastIndexOf('/') + 1)));
            long total = sizes.values().stream().mapToLong(Long::longValue).sum();
            ProgressTracker progress = new ProgressTracker("verify", "wal", total, sizes.size(), listener);
            Map<Integer, TimelineHistory> parsed = new HashMap<>();
            for (var h : histories.entrySet()) {
                readOne(h.getValue(), filesRead, progress).ifPresent(b -> {
                    try {
                        parsed.put(
                                h.getKey(), TimelineHistory.parse(h.getKey(), new String(b, StandardCharsets.UTF_8)));
                    } catch (RuntimeException e) {
                        problems.add(Verifier.Problem.wal(
                                h.getKey(), h.getValue(), "history file cannot be parsed: " + e.getMessage()));
                    }
                });
            }
            for (String name : others) {
                readOne(name, filesRead, progress);
            }
            // a .partial whose complete segment is archived too is not replayed, but it must still read back
            for (var e : partials.entrySet()) {
                for (long n : e.getValue()) {
                    if (segments.getOrDefault(e.getKey(), new TreeSet<>()).contains(n)) {
                        readOne(Lsn.segmentName(e.getKey(), n, segSize) + ".partial", filesRead, progress);
                    }
                }
            }
            Context ctx = context(snapshots, segSize, parsed);
            try (ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, parallel))) {
                List<Future<?>> futures = new ArrayList<>();
                for (List<Seg> run : runs(segments, partials, segSize)) {
                    for (int from = 0; ; from += BATCH - 1) {
                        int to = Math.min(run.size(), from + BATCH);
                        List<Seg> batch = run.subList(from, to);
                        boolean first = from == 0;
                        boolean runEnd = to == run.size();
                        futures.add(pool.submit(() -> {
                            cancel.throwIfCancelled();
                            checkBatch(ctx, batch, first, runEnd, filesRead, recordsChecked, progress);
                            return null;
                        }));
                        if (runEnd) {
                            break;
                        }
                    }
                }
                Verifier.await(futures);
            }
            bytes = progress.bytesDone();
            progress.finish(null);
        }
        List<Verifier.Problem> sorted = new ArrayList<>(problems);
        sorted.sort(Comparator.comparing((Verifier.Problem p) -> p.timeline() == null ? 0 : p.timeline())
                .thenComparing(p -> String.valueOf(p.file()))
                .thenComparing(Verifier.Problem::detail));
        int segCount = segments.values().stream().mapToInt(Set::size).sum();
        int partialCount = partials.values().stream().mapToInt(Set::size).sum();
        return new Result(
                new Summary(
                        List.copyOf(timelines),
                        segCount,
                        partialCount,
                        histories.size(),
                        others.size(),
                        filesRead.get(),
                        bytes,
                        recordsChecked.get(),
                        (System.nanoTime() - t0) / 1e9,
                        List.copyOf(notes)),
                sorted);
    }

    private static int timeline(String walName) {
        return Integer.parseInt(walName.substring(0, 8), 16);
    }

    /** The timeline a backup was taken on (1 if its manifest does not say). */
    private static int timelineOf(Snapshot s) {
        return s.engineInfo().timeline() > 0 ? s.engineInfo().timeline() : 1;
    }

    /**
     * Segments a recovery would miss, per timeline: the recovery planner's gaps (between archived segments, and on
     * the path from the newest backup to the end of the archive), plus the segments between the end of the oldest
     * backup on a timeline and its first archived segment (a backup holds its own WAL up to its end).
     */
    private void checkGaps(List<Snapshot> snapshots, Map<Integer, TreeSet<Long>> segments, long segSize) {
        Map<Integer, TreeSet<String>> missing = new TreeMap<>();
        try {
            for (RecoveryPlanner.Window w : new RecoveryPlanner(repo).windows()) {
                for (String m : w.missingSegments()) {
                    missing.computeIfAbsent(w.timeline(), k -> new TreeSet<>()).add(m);
                }
            }
        } catch (IllegalStateException e) {
            notes.add("gaps in the WAL archive were not looked for: " + e.getMessage());
        } catch (IOException | RuntimeException e) {
            problems.add(new Verifier.Problem(
                    null, null, "the WAL archive cannot be planned for recovery: " + e.getMessage()));
        }
        for (var e : segments.entrySet()) {
            int tli = e.getKey();
            Optional<Long> oldestEnd = snapshots.stream()
                    .filter(s -> timelineOf(s) == tli)
                    .filter(s -> s.engineInfo().stopLsn() != 0)
                    .map(s -> Lsn.segmentOf(s.engineInfo().stopLsn(), segSize))
                    .min(Long::compare);
            if (oldestEnd.isPresent()) {
                for (long n = oldestEnd.get() + 1; n < e.getValue().first(); n++) {
                    missing.computeIfAbsent(tli, k -> new TreeSet<>()).add(Lsn.segmentName(tli, n, segSize));
                }
            }
        }
        for (var e : missing.entrySet()) {
            int tli = e.getKey();
            List<String> names = new ArrayList<>(e.getValue());
            // one problem per contiguous range
            int i = 0;
            while (i < names.size()) {
                int j = i;
                while (j + 1 < names.size()
                        && WalArchive.segmentNumber(names.get(j + 1), segSize)
                                == WalArchive.segmentNumber(names.get(j), segSize) + 1
                        && timeline(names.get(j + 1)) == timeline(names.get(i))) {
                    j++;
                }
                String what = i == j
                        ? "segment " + names.get(i) + " is"
                        : "segments " + names.get(i) + " .. " + names.get(j) + " (" + (j - i + 1) + ") are";
                problems.add(Verifier.Problem.wal(
                        tli,
                        names.get(i),
                        what + " missing from the WAL archive: recovery along "
                                + "timeline " + tli + " stops before " + (i == j ? "it" : "them")
                                + ", so no point after that can be "
                                + "restored from a backup that ends earlier"));
                i = j + 1;
            }
        }
    }

    private Optional<byte[]> readOne(String name, AtomicLong filesRead, ProgressTracker progress) throws IOException {
        int tli = timeline(name);
        try {
            Optional<byte[]> b = archive.read(name);
            if (b.isEmpty()) {
                problems.add(Verifier.Problem.wal(
                        tli, name, "was listed but is gone: is something deleting WAL during verify?"));
            } else {
                filesRead.incrementAndGet();
            }
            progress.addBytes(sizes.getOrDefault(name, 0L));
            return b;
        } catch (RepositoryException.Corrupt e) {
            problems.add(Verifier.Problem.wal(tli, name, e.getMessage()));
            return Optional.empty();
        } finally {
            progress.fileDone();
        }
    }

    /** What every segment is checked against: the backups' cluster and WAL geometry, and the timelines' ancestry. */
    private record Context(
            long segSize,
            Set<String> systemIds,
            Integer magic,
            Map<Integer, TimelineHistory> histories,
            PgBinaries bins) {}

    private Context context(List<Snapshot> snapshots, long segSize, Map<Integer, TimelineHistory> histories) {
        Set<String> ids = new HashSet<>();
        snapshots.stream()
                .mapToLong(s -> s.engineInfo().systemIdentifier())
                .filter(id -> id != 0)
                .forEach(id -> ids.add(Long.toUnsignedString(id)));
        String version =
                snapshots.isEmpty() ? null : snapshots.getLast().engineInfo().serverVersion();
        String major = snapshots.isEmpty() ? null : (version == null ? "" : version).split("\\.")[0];
        PgBinaries bins = null;
        try {
            bins = PgBinaries.forVersion(major);
            if (!Files.isExecutable(bins.tool("pg_waldump"))) {
                notes.add("WAL records were not checked: " + bins.tool("pg_waldump") + " is missing");
                bins = null;
            }
        } catch (IllegalStateException e) {
            notes.add("WAL records were not checked (only page headers): " + e.getMessage());
        }
        return new Context(segSize, ids, major == null ? null : PAGE_MAGIC.get(major), histories, bins);
    }

    /**
     * Each timeline's archived segments as maximal runs of consecutive segment numbers; a {@code .partial} (the
     * streaming receiver's, or the old timeline's last segment at a promotion) ends a run unless the complete
     * segment is archived too.
     */
    private static List<List<Seg>> runs(
            Map<Integer, TreeSet<Long>> segments, Map<Integer, TreeSet<Long>> partials, long segSize) {
        List<List<Seg>> out = new ArrayList<>();
        TreeSet<Integer> tlis = new TreeSet<>(segments.keySet());
        tlis.addAll(partials.keySet());
        for (int tli : tlis) {
            TreeMap<Long, Seg> all = new TreeMap<>();
            for (long n : partials.getOrDefault(tli, new TreeSet<>())) {
                all.put(n, new Seg(tli, n, Lsn.segmentName(tli, n, segSize) + ".partial", true));
            }
            for (long n : segments.getOrDefault(tli, new TreeSet<>())) {
                all.put(n, new Seg(tli, n, Lsn.segmentName(tli, n, segSize), false));
            }
            List<Seg> run = new ArrayList<>();
            for (Seg s : all.values()) {
                if (!run.isEmpty()
                        && (run.getLast().number() + 1 != s.number()
                                || run.getLast().partial())) {
                    out.add(run);
                    run = new ArrayList<>();
                }
                run.add(s);
            }
            if (!run.isEmpty()) {
                out.add(run);
            }
        }
        return out;
    }

    /**
     * Reads one batch of a run into a temporary directory, checks the page headers of the segments it owns (all but
     * the first, which the previous batch owns, unless the batch starts the run) and has pg_waldump read every record.
     */
    private void checkBatch(
            Context ctx,
            List<Seg> batch,
            boolean startsRun,
            boolean endsRun,
            AtomicLong filesRead,
            AtomicInteger recordsChecked,
            ProgressTracker progress)
            throws IOException {
        Path dir = Files.createTempDirectory("lifeboat-verify-wal-");
        try {
            List<Seg> readable = new ArrayList<>();
            long partialLength = -1; // bytes the last segment holds when it is a .partial (it ends a run)
            for (int i = 0; i < batch.size(); i++) {
                Seg s = batch.get(i);
                boolean owned = startsRun || i > 0;
                byte[] data;
                if (owned) {
                    data = readOne(s.name(), filesRead, progress).orElse(null);
                } else {
                    try {
                        data = archive.read(s.name())
                                .orElse(null); // read again for pg_waldump; its owner reports on it
                    } catch (RepositoryException.Corrupt e) {
                        data = null;
                    }
                }
                List<String> issues = data == null ? List.of() : checkHeaders(ctx, s, data);
                if (owned) {
                    for (String issue : issues.subList(0, Math.min(ISSUES_PER_SEGMENT, issues.size()))) {
                        problems.add(Verifier.Problem.wal(s.timeline(), s.name(), issue));
                    }
                    if (issues.size() > ISSUES_PER_SEGMENT) {
                        problems.add(Verifier.Problem.wal(
                                s.timeline(),
                                s.name(),
                                (issues.size() - ISSUES_PER_SEGMENT) + " more damaged page headers"));
                    }
                }
                if (data == null || !issues.isEmpty()) {
                    // an unreadable or foreign segment ends what one pg_waldump run can read (it would only repeat
                    // the finding, less precisely)
                    waldump(
                            ctx,
                            dir,
                            readable,
                            false,
                            -1,
                            recordsChecked,
                            startsRun || readable.isEmpty() || readable.getFirst() != batch.getFirst());
                    readable = new ArrayList<>();
                    continue;
                }
                Files.write(
                        dir.resolve(s.segmentName()),
                        data.length < ctx.segSize() ? Arrays.copyOf(data, (int) ctx.segSize()) : data);
                readable.add(s);
                partialLength = s.partial() ? data.length : -1;
            }
            waldump(
                    ctx,
                    dir,
                    readable,
                    endsRun,
                    partialLength,
                    recordsChecked,
                    startsRun || readable.isEmpty() || readable.getFirst() != batch.getFirst());
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    /**
     * Runs pg_waldump over consecutive segments already written to {@code dir}, then deletes their files.
     *
     * @param partialLength when the last segment is a {@code .partial}, the bytes it holds: pg_waldump stops there
     *                      (a receiver's partial may end inside a record, which is where the WAL ends, not damage)
     * @param countFirst    whether the first segment counts as checked here (else the previous batch counts it)
     */
    private void waldump(
            Context ctx,
            Path dir,
            List<Seg> segs,
            boolean endsRun,
            long partialLength,
            AtomicInteger recordsChecked,
            boolean countFirst)
            throws IOException {
        if (segs.isEmpty()) {
            return;
        }
        try {
            if (ctx.bins() == null) {
                return;
            }
            Seg first = segs.getFirst();
            Seg last = segs.getLast();
            List<String> cmd = new ArrayList<>(List.of(ctx.bins().path("pg_waldump"), "--stats", "--path=" + dir));
            if (last.partial() && partialLength >= 0 && partialLength < ctx.segSize()) {
                cmd.addAll(List.of("-e", Lsn.format(last.number() * ctx.segSize() + partialLength)));
            }
            cmd.addAll(List.of(first.segmentName(), last.segmentName()));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            Process p = pb.start();
            byte[] out = p.getInputStream().readAllBytes();
            int code;
            try {
                if (!p.waitFor(10, TimeUnit.MINUTES)) {
                    p.destroyForcibly();
                    throw new IOException(
                            "pg_waldump did not finish within 10 minutes on " + first.name() + " .. " + last.name());
                }
                code = p.exitValue();
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            recordsChecked.addAndGet(segs.size() - (countFirst ? 0 : 1));
            if (code == 0) {
                return;
            }
            String text = new String(out, StandardCharsets.UTF_8);
            String error = text.lines()
                    .filter(l -> l.contains("error:"))
                    .reduce((a, b) -> b)
                    .orElse(text.strip());
            error = error.replaceFirst("^pg_waldump: error: ", "");
            Seg at = locate(error, segs, ctx.segSize());
            if (endsRun && at == last && END_OF_WAL.matcher(error).find()) {
                return; // the WAL simply ends inside the last segment of the run
            }
            problems.add(Verifier.Problem.wal(
                    at.timeline(),
                    at.name(),
                    "WAL records are damaged: " + error + (at == last && !endsRun ? "" : "; recovery stops here")));
        } finally {
            for (Seg s : segs) {
                Files.deleteIfExists(dir.resolve(s.segmentName()));
            }
        }
    }

    /** The segment a pg_waldump error is about: the one it names, else the one holding the last LSN it names. */
    private static Seg locate(String error, List<Seg> segs, long segSize) {
        Matcher m = SEGMENT_NAME.matcher(error);
        while (m.find()) {
            for (Seg s : segs) {
                if (s.segmentName().equals(m.group(1))) {
                    return s;
                }
            }
        }
        Matcher l = LSN.matcher(error);
        long lsn = -1;
        while (l.find()) {
            lsn = Lsn.parse(l.group(1));
        }
        if (lsn >= 0) {
            for (Seg s : segs) {
                if (s.number() == lsn / segSize) {
                    return s;
                }
            }
        }
        return segs.getFirst();
    }

    /**
     * The page headers of one segment against its name: the first page's long header (magic, timeline, address =
     * the segment's start LSN, the backups' system identifier, segment and page size) and every further page's
     * address and timeline. Pages of zeros are allowed: PostgreSQL leaves them after a WAL switch, and the receiver's
     * {@code .partial} files end in them.
     */
    static List<String> checkHeaders(Context ctx, Seg s, byte[] data) {
        List<String> issues = new ArrayList<>();
        long segSize = ctx.segSize();
        long start = s.number() * segSize;
        if (!s.partial() && data.length != segSize) {
            issues.add("is " + data.length + " bytes long; a WAL segment of this cluster has " + segSize);
            return issues;
        }
        if (data.length < 40 || data.length > segSize) {
            issues.add("is " + data.length + " bytes long: not a WAL segment");
            return issues;
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int magic = b.getShort(0) & 0xffff;
        int info = b.getShort(2) & 0xffff;
        long tli = b.getInt(4) & 0xffffffffL;
        long addr = b.getLong(8);
        long sysid = b.getLong(24);
        long headerSegSize = b.getInt(32) & 0xffffffffL;
        int blcksz = b.getInt(36);
        if (ctx.magic() != null && magic != ctx.magic()) {
            issues.add(String.format(
                    "first page has magic 0x%04X, PostgreSQL of the backups writes 0x%04X", magic, ctx.magic()));
        }
        if ((info & XLP_LONG_HEADER) == 0 || (info & ~XLP_ALL_FLAGS) != 0) {
            issues.add(String.format("first page has no valid long header (xlp_info 0x%04X)", info));
        }
        if (addr != start) {
            issues.add("first page belongs at " + Lsn.format(addr) + " (segment "
                    + Lsn.segmentName((int) tli, addr / segSize, segSize) + "), not at " + Lsn.format(start)
                    + ": this is not the content of " + s.segmentName());
        }
        if (!validTimeline(ctx, s.timeline(), tli)) {
            issues.add("first page is of timeline " + tli + ", which is not timeline " + s.timeline()
                    + " nor one of its parents");
        }
        if (!ctx.systemIds().isEmpty() && !ctx.systemIds().contains(Long.toUnsignedString(sysid))) {
            issues.add("was written by the cluster with system identifier " + Long.toUnsignedString(sysid)
                    + ", not by the cluster the backups come from (" + String.join(", ", ctx.systemIds()) + ")");
        }
        if (headerSegSize != segSize) {
            issues.add("says segments are " + headerSegSize + " bytes; the backups' cluster uses " + segSize);
        }
        if (blcksz < 1024 || blcksz > 65536 || Integer.bitCount(blcksz) != 1 || segSize % blcksz != 0) {
            issues.add("has an invalid WAL page size " + blcksz);
        }
        if (!issues.isEmpty()) {
            return issues;
        }
        long lastTli = tli;
        for (int off = blcksz; off + SHORT_HEADER <= data.length; off += blcksz) {
            if (isZero(data, off, SHORT_HEADER)) {
                continue;
            }
            int m = b.getShort(off) & 0xffff;
            int i = b.getShort(off + 2) & 0xffff;
            long t = b.getInt(off + 4) & 0xffffffffL;
            long a = b.getLong(off + 8);
            long expected = start + off;
            if (m != magic || (i & ~XLP_ALL_FLAGS) != 0 || (i & XLP_LONG_HEADER) != 0) {
                issues.add(String.format(
                        "page at %s has an invalid header (magic 0x%04X, xlp_info 0x%04X)",
                        Lsn.format(expected), m, i));
            } else if (a != expected) {
                issues.add("page at " + Lsn.format(expected) + " says it belongs at " + Lsn.format(a));
            } else if (t < lastTli || !validTimeline(ctx, s.timeline(), t)) {
                issues.add("page at " + Lsn.format(expected) + " is of timeline " + t + " after timeline " + lastTli
                        + " in a segment of timeline " + s.timeline());
            } else {
                lastTli = t;
            }
        }
        return issues;
    }

    /** A segment of timeline {@code segTli} may start with pages of a parent: the copy made at the switch. */
    private static boolean validTimeline(Context ctx, int segTli, long pageTli) {
        if (pageTli == segTli) {
            return true;
        }
        if (pageTli > segTli || pageTli < 1) {
            return false;
        }
        TimelineHistory h = ctx.histories().get(segTli);
        return h == null || h.entries().stream().anyMatch(e -> e.parent() == pageTli);
    }

    private static boolean isZero(byte[] b, int off, int len) {
        for (int i = off; i < off + len; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }
}
