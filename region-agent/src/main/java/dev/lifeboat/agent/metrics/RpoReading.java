package dev.lifeboat.agent.metrics;

import java.time.Instant;

/**
 * One measurement of a database's recovery point in one region.
 *
 * @param rpoSeconds              how much committed work a loss of the database now would lose if recovered from this
 *                                region: the age of the oldest WAL with a commit that is not yet durable there (0 when
 *                                everything is); NaN when unknown (no WAL in the region and no server to compare with)
 * @param durableLsn              end of the newest WAL durable in the region (a complete segment's end or the flushed
 *                                end of a streamed {@code .partial}); -1 if the region holds none for the timeline
 * @param currentLsn              the server's current WAL write position ({@code pg_current_wal_lsn()}); -1 if unknown
 * @param estimatedFromObjectTime the server could not be asked: {@code rpoSeconds} is now − the write time of the
 *                                newest durable WAL object instead of a comparison with the server's position
 * @param error                   what went wrong in this measurement (server unreachable, region unreadable), else null
 */
public record RpoReading(
        String database,
        String region,
        double rpoSeconds,
        long durableLsn,
        long currentLsn,
        Instant measuredAt,
        boolean estimatedFromObjectTime,
        String error) {}
