package dev.lifeboat.engine.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Backup ids sort in the order backups were taken, also for two backups in one second or after a clock step back. */
class BackupIdTest {
    @Test
    void aBackupInTheSameSecondOrEarlierSortsAfterTheNewest() {
        Instant start = Instant.parse("2026-12-04T15:22:06.700Z");
        assertThat(PgBackup.idTime(start, List.of())).isEqualTo(Instant.parse("2026-12-04T15:22:06Z"));
        assertThat(PgBackup.idTime(start, List.of("20261204-152205F-aaaa")))
                .isEqualTo(Instant.parse("2026-12-04T15:22:06Z"));
        // the same second: one second later, so "…152207I-0000" sorts after "…152206F-ffff"
        assertThat(PgBackup.idTime(start, List.of("20261204-152205F-aaaa", "20261204-152206F-ffff")))
                .isEqualTo(Instant.parse("2026-12-04T15:22:07Z"));
        // the clock went back an hour
        assertThat(PgBackup.idTime(start, List.of("20261204-162206I-0001")))
                .isEqualTo(Instant.parse("2026-12-04T16:22:07Z"));
        // ids of another form are not ordered against
        assertThat(PgBackup.idTime(start, List.of("nightly"))).isEqualTo(Instant.parse("2026-12-04T15:22:06Z"));
    }
}
