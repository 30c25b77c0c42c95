package dev.lifeboat.agent;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobRequest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Jobs on disk under {@code state-dir/jobs/<job id>/}: {@code request.pb} (the request, written once with
 * write-then-rename and fsync before the submit is acknowledged) and {@code events.log} (length-delimited events,
 * appended; fsynced on every STARTED and end event, so what a restart finds is at most one progress report behind).
 * A torn last record (a crash mid-append) is dropped when the journal is read back.
 */
final class JobJournal {
    private static final Logger log = LoggerFactory.getLogger(JobJournal.class);
    static final String REQUEST = "request.pb";
    static final String EVENTS = "events.log";

    /** One job read back: its request, when it was submitted, and its events in order. */
    record Stored(JobRequest request, Instant submittedAt, List<JobEvent> events) {}

    private final Path dir;

    JobJournal(Path dir) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir);
        if (!Files.isWritable(dir)) {
            throw new IOException("job journal directory " + dir + " is not writable by "
                    + System.getProperty("user.name") + "; fix state-dir in the agent config or its permissions");
        }
    }

    Path dir() {
        return dir;
    }

    private Path jobDir(String jobId) {
        return dir.resolve(jobId);
    }

    /** Every job on disk, oldest submit first; torn event logs are repaired. */
    List<Stored> loadAll() throws IOException {
        List<Stored> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path d : ds) {
                Path req = d.resolve(REQUEST);
                if (!Files.isDirectory(d) || !Files.isRegularFile(req)) {
                    if (Files.isDirectory(d)) {
                        // a submit that crashed before its request was durable was never acknowledged: nothing to
                        // report
                        log.warn(
                                "removing job directory {} without a request (a submit interrupted before it was "
                                        + "accepted)",
                                d);
                        deleteTree(d);
                    }
                    continue;
                }
                JobRequest request;
                try {
                    request = JobRequest.parseFrom(Files.readAllBytes(req));
                } catch (InvalidProtocolBufferException e) {
                    log.error("job journal {} is unreadable ({}); leaving it alone", req, e.getMessage());
                    continue;
                }
                out.add(new Stored(request, Files.getLastModifiedTime(req).toInstant(), readEvents(d)));
            }
        }
        out.sort(Comparator.comparing(Stored::submittedAt)
                .thenComparing(s -> s.request().getJobId()));
        return out;
    }

    private List<JobEvent> readEvents(Path jobDir) throws IOException {
        Path file = jobDir.resolve(EVENTS);
        List<JobEvent> events = new ArrayList<>();
        if (!Files.exists(file)) {
            return events;
        }
        byte[] all = Files.readAllBytes(file);
        // framed by hand: protobuf's parseDelimitedFrom takes a record cut short for a complete, shorter one
        CodedInputStream in = CodedInputStream.newInstance(all);
        int good = 0;
        String id = jobDir.getFileName().toString();
        while (good < all.length) {
            try {
                int len = in.readRawVarint32();
                if (len < 0 || len > all.length - in.getTotalBytesRead()) {
                    break;
                }
                JobEvent e = JobEvent.parseFrom(in.readRawBytes(len));
                long prev = events.isEmpty() ? 0 : events.getLast().getSequence();
                if (!e.getJobId().equals(id) || e.getSequence() <= prev) {
                    break;
                }
                events.add(e);
                good = in.getTotalBytesRead();
            } catch (InvalidProtocolBufferException torn) {
                break;
            }
        }
        if (good < all.length) {
            log.warn("job journal {}: dropping a torn last record ({} bytes)", file, all.length - good);
            rewrite(jobDir.getFileName().toString(), events);
        }
        return events;
    }

    /** Makes a new job durable: its directory, the request (write-then-rename) and an empty event log. */
    void create(JobRequest request) throws IOException {
        Path d = jobDir(request.getJobId());
        Files.createDirectories(d);
        Files.write(d.resolve(EVENTS), new byte[0]);
        writeAtomically(d.resolve(REQUEST), request.toByteArray());
        fsyncDir(dir);
    }

    void append(String jobId, JobEvent event, boolean sync) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(128);
        event.writeDelimitedTo(buf);
        try (FileChannel ch = FileChannel.open(
                jobDir(jobId).resolve(EVENTS),
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            ByteBuffer b = ByteBuffer.wrap(buf.toByteArray());
            while (b.hasRemaining()) {
                ch.write(b);
            }
            if (sync) {
                ch.force(false);
            }
        }
    }

    /** Replaces a job's event log (compaction, repair) with write-then-rename. */
    void rewrite(String jobId, List<JobEvent> events) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        for (JobEvent e : events) {
            e.writeDelimitedTo(buf);
        }
        writeAtomically(jobDir(jobId).resolve(EVENTS), buf.toByteArray());
    }

    void delete(String jobId) throws IOException {
        deleteTree(jobDir(jobId));
    }

    private static void writeAtomically(Path file, byte[] content) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap(content);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
        fsyncDir(file.getParent());
    }

    private static void fsyncDir(Path d) throws IOException {
        try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
