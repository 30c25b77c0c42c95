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
