package dev.lifeboat.engine.postgres;

import dev.lifeboat.repository.Snapshot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** When an incremental may trust page LSNs against its parent (the rest is covered on a real cluster). */
class PageLsnRuleTest {
    private static final Instant PARENT_START = Instant.parse("2026-11-20T10:00:00Z");

    private static Snapshot parent(String timeline) {
        return new Snapshot("p", "full", "postgresql", null, PARENT_START, PARENT_START.plusSeconds(5), "h", "/d", "zstd-1",
                Map.of("startLsn", "1/2000028", "timeline", timeline), List.of(), List.of(), null);
    }

    @Test
    void parentStartLsnOnTheSameTimelineAndNoRestoreSince() {
        assertThat(PgBackup.pageLsnThreshold(parent("1"), 1, null)).isEqualTo(Lsn.parse("1/2000028"));
        assertThat(PgBackup.pageLsnThreshold(parent("1"), 1, PARENT_START.minusSeconds(60))).isEqualTo(Lsn.parse("1/2000028"));
    }

    @Test
    void noTrustAcrossTimelinesOrAfterARestoreOrWithoutParent() {
        assertThat(PgBackup.pageLsnThreshold(parent("1"), 2, null)).isZero();
        assertThat(PgBackup.pageLsnThreshold(parent("1"), 1, PARENT_START.plusSeconds(60))).isZero();
        assertThat(PgBackup.pageLsnThreshold(null, 1, null)).isZero();
    }

    @Test
    void restoreMarkerIsReadAndAnUnreadableOneCountsAsJustRestored(@TempDir Path dir) throws Exception {
        assertThat(PgBackup.restoredAt(dir)).isNull();
        Files.writeString(dir.resolve(PgFileRules.RESTORE_MARKER), "backup=x\nrestoredAt=2026-11-21T08:00:00Z\n");
        assertThat(PgBackup.restoredAt(dir)).isEqualTo(Instant.parse("2026-11-21T08:00:00Z"));
        Files.writeString(dir.resolve(PgFileRules.RESTORE_MARKER), "garbage");
        assertThat(PgBackup.restoredAt(dir)).isAfter(Instant.now().minusSeconds(60));
    }
}
