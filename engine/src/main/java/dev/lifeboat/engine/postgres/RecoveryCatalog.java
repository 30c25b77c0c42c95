package dev.lifeboat.engine.postgres;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.SnapshotSummary;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * What a repository can recover, read once for every front door ({@code lifeboat list}, {@code restore --plan}, the
 * agent's CATALOG job and through it the dashboard): its backups, the recoverable window and WAL gaps of each
 * timeline, and for a chosen target which backup a restore would start from and how much WAL it would replay.
 */
public final class RecoveryCatalog {
    /**
     * A segment missing from the archive, placed in time by its archived neighbours' store times ({@code after}: the
     * newest segment before it was stored then; {@code before}: the next one after it; either null when unknown).
     */
    public record Gap(int timeline, String segment, Instant after, Instant before) {}

    /** @param note which cluster's history a restore to the latest point follows, when that needs saying (or null) */
    public record Catalog(
            String repository,
            Instant readAt,
            List<Map<String, Object>> backups,
            List<RecoveryPlanner.Window> timelines,
            List<Gap> gaps,
            String note) {}

    /**
     * A restore's plan: the backup it starts from, what it restores ({@code restoreBytes}: the backup's files), the
     * timeline it recovers along and how far the archive reaches there, and the WAL it replays (read-ahead may fetch
     * a few segments more).
     */
    public record Plan(
            String backup,
            String backupType,
            Instant backupStopTime,
            long restoreBytes,
            String target,
            int timeline,
            Instant recoverableUntil,
            String firstSegment,
            String lastSegment,
            long walSegments,
            long walBytes,
            String stopLsn,
            String historyNote) {}

    private RecoveryCatalog() {}

    public static Catalog read(Repository repo) throws IOException {
        RecoveryPlanner planner = new RecoveryPlanner(repo);
        List<Map<String, Object>> backups = new ArrayList<>();
        for (Snapshot s : repo.loadSnapshots()) {
            backups.add(SnapshotSummary.of(s));
        }
        List<RecoveryPlanner.Window> windows = planner.windows();
        List<Gap> gaps = new ArrayList<>();
        for (RecoveryPlanner.Window w : windows) {
            TreeSet<Long> archived = planner.archivedSegments(w.timeline());
            for (String missing : w.missingSegments()) {
                long n = planner.segmentNumberOf(missing);
                Long before = archived.lower(n);
                Long after = archived.higher(n);
                gaps.add(new Gap(
                        w.timeline(),
                        missing,
                        before == null
                                ? null
                                : planner.storedAt(planner.segmentNameOf(w.timeline(), before))
                                        .orElse(null),
                        after == null
                                ? null
                                : planner.storedAt(planner.segmentNameOf(w.timeline(), after))
                                        .orElse(null)));
            }
        }
        return new Catalog(
                repo.uri(),
                Instant.now(),
                backups,
                windows,
                gaps,
                planner.latestHistoryNote().orElse(null));
    }

    /**
     * Which backup a restore to {@code target} (null: the backup's own end) would start from, and the WAL it would
     * read; {@code backup} an id, prefix or "latest". Throws IllegalArgumentException, saying why, when the
     * repository cannot reach the target.
     */
    public static Plan plan(Repository repo, RecoveryTarget target, String backup) throws IOException {
        RecoveryPlanner planner = new RecoveryPlanner(repo);
        RecoveryTarget t =
                target != null ? target : new RecoveryTarget(RecoveryTarget.Kind.IMMEDIATE, "immediate", false, null);
        RecoveryPlanner.Plan p = planner.plan(t, backup);
        RecoveryPlanner.Replay replay = planner.replay(p, t);
        Snapshot s = p.backup();
        return new Plan(
                s.id(),
                s.type(),
                s.stopTime(),
                s.totalFileBytes(),
                t.kind() == RecoveryTarget.Kind.LATEST || t.kind() == RecoveryTarget.Kind.IMMEDIATE
                        ? t.kind().name().toLowerCase(Locale.ROOT)
                        : t.kind().name().toLowerCase(Locale.ROOT) + " " + t.value(),
                p.targetTimeline(),
                p.recoverableUntil(),
                replay.firstSegment(),
                replay.lastSegment(),
                replay.segments(),
                replay.bytes(),
                replay.stopLsn() == null ? null : Lsn.format(replay.stopLsn()),
                p.historyNote());
    }
}
