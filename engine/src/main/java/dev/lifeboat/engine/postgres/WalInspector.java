package dev.lifeboat.engine.postgres;

import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads restore points, transaction ends and tablespace creations out of runs of archived WAL segments with
 * PostgreSQL's own pg_waldump, which checks each record's CRC.
 */
final class WalInspector {
    private static final String RECORD_HEAD =
            "tx:\\s+(\\d+), lsn: ([0-9A-F]+/[0-9A-F]+), prev [0-9A-F]+/[0-9A-F]+, desc: ";
    private static final String TIME = "(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?) UTC";
    /**
     * A transaction end as pg_waldump 15 describes it ({@code xact_desc} in xactdesc.c): {@code COMMIT <time>} or
     * {@code ABORT <time>}; for two-phase transactions {@code COMMIT_PREPARED <xid>: <time>}, whose xid is the
     * prepared transaction's (the record's own tx is 0).
     */
    private static final Pattern TRANSACTION_END =
            Pattern.compile(RECORD_HEAD + "(COMMIT|ABORT)(_PREPARED (\\d+):)? " + TIME, Pattern.MULTILINE);

    private static final Pattern RESTORE_POINT =
            Pattern.compile(RECORD_HEAD + "RESTORE_POINT (.*)$", Pattern.MULTILINE);
    /** {@code CREATE <oid> "<location>"} ({@code tblspc_desc} in tblspcdesc.c). */
    private static final Pattern TABLESPACE_CREATE =
            Pattern.compile(RECORD_HEAD + "CREATE (\\d+) \"(.*)\"$", Pattern.MULTILINE);

    private static final DateTimeFormatter TS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss[.SSSSSS][.SSSSS][.SSSS][.SSS][.SS][.S]");

    private final WalArchive archive;
    private final PgBinaries bins;

    WalInspector(WalArchive archive, PgBinaries bins) {
        this.archive = archive;
        this.bins = bins;
    }

    /**
     * A WAL record that names a restore point or ends a transaction.
     *
     * @param kind RESTORE_POINT, COMMIT or ABORT (a two-phase transaction's end included)
     * @param xid  the transaction that ended: for COMMIT PREPARED / ROLLBACK PREPARED the prepared one, which is
     *             what recovery_target_xid matches ({@code recoveryStopsBefore} in xlogrecovery.c)
     * @param time when a transaction ended (null for a restore point)
     */
    record Marker(long lsn, String kind, long xid, String name, Instant time) {
        boolean isCommit() {
            return kind.equals("COMMIT");
        }

        boolean isTransactionEnd() {
            return !kind.equals("RESTORE_POINT");
        }
    }

    /** A CREATE TABLESPACE record: its redo creates the tablespace's directories at {@code location}. */
    record TablespaceCreation(long lsn, long oid, String location) {}

    /** What a run of segments holds of the records asked for, each list oldest first. */
    record Records(List<Marker> markers, List<TablespaceCreation> tablespaces) {}

    /**
     * The restore points and transaction ends in a run of consecutive segments on the way to {@code timeline}.
     *
     * @see #read
     */
    List<Marker> markers(List<String> run, int timeline, long segmentSize) throws IOException {
        return read(run, timeline, segmentSize, "XLOG", "Transaction").markers();
    }

    /** The transaction ends in a run of consecutive segments (one pg_waldump pass). */
    List<Marker> transactionEnds(List<String> run, int timeline, long segmentSize) throws IOException {
        return read(run, timeline, segmentSize, "Transaction").markers();
    }

    /** Tablespace creations and transaction ends in a run of consecutive segments (one pg_waldump pass). */
    Records tablespaceCreations(List<String> run, int timeline, long segmentSize) throws IOException {
        return read(run, timeline, segmentSize, "Tablespace", "Transaction");
    }

    /**
     * The records of the given resource managers in a run of consecutive segments on the way to {@code timeline}.
     * The segments may belong to earlier timelines (the path a recovery onto {@code timeline} follows): they are
     * laid out under {@code timeline}'s names, which pg_waldump accepts since page headers only ever move to higher
     * timelines. A {@code .partial} (the last of the run) is zero-padded.
     */
    private Records read(List<String> run, int timeline, long segmentSize, String... rmgrs) throws IOException {
        if (run.isEmpty()) {
            return new Records(List.of(), List.of());
        }
        Path dir = Files.createTempDirectory("lifeboat-waldump-");
        try {
            List<String> names = layOut(run, timeline, segmentSize, dir);
            if (names.isEmpty()) {
                return new Records(List.of(), List.of());
            }
            List<String> cmd =
                    new ArrayList<>(List.of(bins.path("pg_waldump"), "--path=" + dir, "--timeline=" + timeline));
            for (String rmgr : rmgrs) {
                cmd.add("--rmgr=" + rmgr);
            }
            cmd.addAll(List.of(names.getFirst(), names.getLast()));
            return parse(waldump(cmd));
        } finally {
            Processes.run(List.of("rm", "-rf", dir.toString()), Duration.ofSeconds(30));
        }
    }

    private static final Pattern RECORD_LSN = Pattern.compile("\\blsn: ([0-9A-F]+/[0-9A-F]+),");

    /**
     * Where the first record at or after {@code lsn} starts, in a run of consecutive segments beginning with the one
     * that holds {@code lsn} (pg_waldump --start finds it as recovery does: past a switched segment's zero-filled
     * tail, in the next segment), or empty when the run holds no complete record there.
     */
    Optional<Long> firstRecordFrom(List<String> run, int timeline, long segmentSize, long lsn) throws IOException {
        if (run.isEmpty()) {
            return Optional.empty();
        }
        Path dir = Files.createTempDirectory("lifeboat-waldump-");
        try {
            List<String> names = layOut(run, timeline, segmentSize, dir);
            if (names.isEmpty()) {
                return Optional.empty();
            }
            Optional<Long> found = firstRecord(dir, timeline, lsn);
            // pg_waldump cannot start inside the zero-filled pages a switch leaves (no page header there); no record
            // starts in them, so the first one at or after lsn is the next segment's first
            long next = (lsn / segmentSize + 1) * segmentSize;
            if (found.isEmpty() && names.size() > 1) {
                found = firstRecord(dir, timeline, next);
            }
            return found;
        } finally {
            Processes.run(List.of("rm", "-rf", dir.toString()), Duration.ofSeconds(30));
        }
    }

    private Optional<Long> firstRecord(Path dir, int timeline, long start) throws IOException {
        Matcher m = RECORD_LSN.matcher(waldump(List.of(
                bins.path("pg_waldump"),
                "--path=" + dir,
                "--timeline=" + timeline,
                "--start=" + Lsn.format(start),
                "--limit=1")));
        return m.find() ? Optional.of(Lsn.parse(m.group(1))) : Optional.empty();
    }

    /**
     * Writes the run's segments into {@code dir} under {@code timeline}'s names, from the first one archived (a
     * backup's first segments may be only in the backup) to where the archive ends or has a gap.
     */
    private List<String> layOut(List<String> run, int timeline, long segmentSize, Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        for (String seg : run) {
            Optional<byte[]> data = archive.read(seg);
            if (data.isEmpty() && names.isEmpty()) {
                continue;
            }
            if (data.isEmpty()) {
                break;
            }
            byte[] b = data.get().length < segmentSize ? Arrays.copyOf(data.get(), (int) segmentSize) : data.get();
            String name = String.format("%08X", timeline) + seg.substring(8, 24);
            Files.write(dir.resolve(name), b);
            names.add(name);
        }
        return names;
    }

    private static String waldump(List<String> cmd) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("TZ", "UTC");
        pb.environment().put("PGTZ", "UTC");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return out;
    }

    static Records parse(String waldumpOutput) {
        List<Marker> markers = new ArrayList<>();
        Matcher m = TRANSACTION_END.matcher(waldumpOutput);
        while (m.find()) {
            long xid = Long.parseLong(m.group(5) != null ? m.group(5) : m.group(1));
            markers.add(new Marker(Lsn.parse(m.group(2)), m.group(3), xid, null, parseTime(m.group(6))));
        }
        m = RESTORE_POINT.matcher(waldumpOutput);
        while (m.find()) {
            markers.add(new Marker(
                    Lsn.parse(m.group(2)),
                    "RESTORE_POINT",
                    Long.parseLong(m.group(1)),
                    m.group(3).strip(),
                    null));
        }
        markers.sort((a, b) -> Long.compareUnsigned(a.lsn(), b.lsn()));
        List<TablespaceCreation> created = new ArrayList<>();
        m = TABLESPACE_CREATE.matcher(waldumpOutput);
        while (m.find()) {
            created.add(new TablespaceCreation(Lsn.parse(m.group(2)), Long.parseLong(m.group(3)), m.group(4)));
        }
        return new Records(markers, created);
    }

    private static Instant parseTime(String s) {
        return LocalDateTime.parse(s, TS).toInstant(ZoneOffset.UTC);
    }
}
