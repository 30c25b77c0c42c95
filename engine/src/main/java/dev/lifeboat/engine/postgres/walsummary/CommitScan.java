package dev.lifeboat.engine.postgres.walsummary;

import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.repository.WalArchive;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * The transaction commits in a stretch of a cluster's WAL (how many, the oldest and the newest), read from its pg_wal
 * (then its archive) with {@link WalRecordReader}: a drill measures the data it would have lost as the commits the
 * source made past the point its copy recovered to. Commit times are xl_xact_commit's {@code xact_time} (PostgreSQL
 * 15's layout), for plain and prepared commits; aborts do not count.
 */
public final class CommitScan {
    private static final int RM_XACT = 1;
    private static final int XLOG_XACT_OPMASK = 0x70;
    private static final int XLOG_XACT_COMMIT = 0x00;
    private static final int XLOG_XACT_COMMIT_PREPARED = 0x30;
    /** PostgreSQL's epoch for TimestampTz: microseconds since 2000-01-01 00:00 UTC. */
    private static final Instant PG_EPOCH = Instant.parse("2000-01-01T00:00:00Z");

    /** What a scan found: the commits in the range and the oldest and newest one's times (null when there was none). */
    public record Found(int commits, Instant oldest, Instant newest, long walBytes) {}

    private CommitScan() {}

    /**
     * Scans the records of timeline {@code timeline} that start in [{@code start}, {@code end}). {@code start} is a
     * record boundary as PostgreSQL records it (e.g. a timeline switch point), which may be the first byte of a page:
     * the record then starts after that page's header.
     *
     * @param archive where segments pg_wal no longer has are read (null: pg_wal only)
     * @throws IOException when the WAL of the range cannot be read completely (the message says why)
     */
    public static Found scan(Path pgWal, WalArchive archive, int timeline, long segmentSize, long start, long end)
            throws IOException {
        if (end <= start) {
            return new Found(0, null, null, 0);
        }
        long first = start;
        if (first % WalRecordReader.PAGE == 0) {
            first += first % segmentSize == 0 ? WalRecordReader.LONG_PAGE_HEADER : WalRecordReader.SHORT_PAGE_HEADER;
        }
        byte[] buffer = new byte[(int) segmentSize];
        WalRecordReader reader = new WalRecordReader(segmentSize, seg -> {
            String name = Lsn.segmentName(timeline, seg, segmentSize);
            byte[] local = PgWalSegment.read(pgWal.resolve(name), buffer);
            if (local != null || archive == null) {
                return local;
            }
            return archive.read(name).orElse(null);
        });
        long[] newest = {Long.MIN_VALUE};
        long[] oldest = {Long.MAX_VALUE};
        int[] commits = {0};
        try {
            reader.walk(first, end, r -> {
                int op = r.info & XLOG_XACT_OPMASK;
                if (r.rmid == RM_XACT && (op == XLOG_XACT_COMMIT || op == XLOG_XACT_COMMIT_PREPARED)) {
                    commits[0]++;
                    newest[0] = Math.max(newest[0], r.main.getLong(0));
                    oldest[0] = Math.min(oldest[0], r.main.getLong(0));
                }
            });
        } catch (IndexOutOfBoundsException e) {
            throw new IOException("a commit record shorter than its layout in the WAL from " + Lsn.format(start), e);
        }
        if (commits[0] == 0) {
            return new Found(0, null, null, reader.bytesRead());
        }
        return new Found(
                commits[0],
                PG_EPOCH.plus(oldest[0], ChronoUnit.MICROS),
                PG_EPOCH.plus(newest[0], ChronoUnit.MICROS),
                reader.bytesRead());
    }
}
