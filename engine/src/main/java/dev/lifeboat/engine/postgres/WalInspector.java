package dev.lifeboat.engine.postgres;

import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.util.Processes;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads commit times out of archived WAL segments with PostgreSQL's own pg_waldump. */
final class WalInspector {
    private static final Pattern COMMIT = Pattern.compile("desc: COMMIT (\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?) UTC");
    private static final DateTimeFormatter TS = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss[.SSSSSS][.SSSSS][.SSSS][.SSS][.SS][.S]");

    private final WalArchive archive;
    private final PgBinaries bins;

    WalInspector(WalArchive archive, PgBinaries bins) {
        this.archive = archive;
        this.bins = bins;
    }

    /** Commit timestamps recorded in one archived segment, in WAL order. */
    List<Instant> commitTimes(String segment) throws IOException {
        Optional<byte[]> data = archive.read(segment);
        if (data.isEmpty()) {
            return List.of();
        }
        Path dir = Files.createTempDirectory("lifeboat-waldump-");
        try {
            Files.write(dir.resolve(segment), data.get());
            ProcessBuilder pb = new ProcessBuilder(bins.path("pg_waldump"), "--path=" + dir, segment, segment)
                    .redirectErrorStream(true);
            pb.environment().put("TZ", "UTC");
            pb.environment().put("PGTZ", "UTC");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes());
            try {
                p.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            List<Instant> times = new ArrayList<>();
            Matcher m = COMMIT.matcher(out);
            while (m.find()) {
                times.add(LocalDateTime.parse(m.group(1), TS).toInstant(ZoneOffset.UTC));
            }
            if (times.isEmpty() && System.getenv("LIFEBOAT_DEBUG_WALDUMP") != null) {
                System.err.println("pg_waldump " + segment + ": " + out.substring(Math.max(0, out.length() - 2000)));
            }
            return times;
        } finally {
            Processes.run(List.of("rm", "-rf", dir.toString()), Duration.ofSeconds(30));
        }
    }

    /** A WAL record that names a restore point or ends a transaction. */
    record Marker(long lsn, String kind, long xid, String name) {
    }

    private static final Pattern RECORD = Pattern.compile(
            "tx:\\s+(\\d+), lsn: ([0-9A-F]+/[0-9A-F]+), prev [0-9A-F]+/[0-9A-F]+, desc: (RESTORE_POINT|COMMIT|ABORT)\\b ?(.*)$",
            Pattern.MULTILINE);

    /**
     * The restore points and transaction ends (commit or abort) in a run of consecutive segments on the way to
     * {@code timeline}, oldest first. The segments may belong to earlier timelines (the path a recovery onto
     * {@code timeline} follows): they are laid out under {@code timeline}'s names, which pg_waldump accepts since page
     * headers only ever move to higher timelines. A {@code .partial} (the last of the run) is zero-padded. Records
     * are read with PostgreSQL's pg_waldump, which checks each one's CRC.
     */
    List<Marker> markers(List<String> run, int timeline, long segmentSize) throws IOException {
        if (run.isEmpty()) {
            return List.of();
        }
        Path dir = Files.createTempDirectory("lifeboat-waldump-");
        try {
            List<String> names = new ArrayList<>();
            for (String seg : run) {
                Optional<byte[]> data = archive.read(seg);
                if (data.isEmpty()) {
                    break; // the run ends where the archive does
                }
                byte[] b = data.get().length < segmentSize ? java.util.Arrays.copyOf(data.get(), (int) segmentSize) : data.get();
                String name = String.format("%08X", timeline) + seg.substring(8, 24);
                Files.write(dir.resolve(name), b);
                names.add(name);
            }
            if (names.isEmpty()) {
                return List.of();
            }
            ProcessBuilder pb = new ProcessBuilder(bins.path("pg_waldump"), "--path=" + dir, "--timeline=" + timeline,
                    names.getFirst(), names.getLast()).redirectErrorStream(true);
            pb.environment().put("TZ", "UTC");
            pb.environment().put("PGTZ", "UTC");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            try {
                p.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            List<Marker> found = new ArrayList<>();
            Matcher m = RECORD.matcher(out);
            while (m.find()) {
                String kind = m.group(3);
                found.add(new Marker(Lsn.parse(m.group(2)), kind, Long.parseLong(m.group(1)),
                        kind.equals("RESTORE_POINT") ? m.group(4).strip() : null));
            }
            return found;
        } finally {
            Processes.run(List.of("rm", "-rf", dir.toString()), Duration.ofSeconds(30));
        }
    }

    /** The newest commit time in the given segments, looking backwards from the last one. */
    Optional<Instant> lastCommit(List<String> segmentsOldestFirst) throws IOException {
        for (int i = segmentsOldestFirst.size() - 1; i >= 0 && i >= segmentsOldestFirst.size() - 8; i--) {
            List<Instant> t = commitTimes(segmentsOldestFirst.get(i));
            if (!t.isEmpty()) {
                return Optional.of(t.getLast());
            }
        }
        return Optional.empty();
    }
}
