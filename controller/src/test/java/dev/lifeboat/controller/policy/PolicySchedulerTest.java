package dev.lifeboat.controller.policy;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.proto.v1.JobType;
import org.junit.jupiter.api.Test;

class PolicySchedulerTest {
    @Test
    void aDueFullIsNotSkippedForARunningIncrementalButAnIncrementalWaitsOutAnyBackup() {
        assertThat(PolicyScheduler.sameKind("BACKUP_INCREMENTAL", JobType.BACKUP_FULL))
                .isFalse();
        assertThat(PolicyScheduler.sameKind("BACKUP_FULL", JobType.BACKUP_FULL)).isTrue();
        assertThat(PolicyScheduler.sameKind("BACKUP_FULL", JobType.BACKUP_INCREMENTAL))
                .isTrue();
        assertThat(PolicyScheduler.sameKind("BACKUP_INCREMENTAL", JobType.BACKUP_INCREMENTAL))
                .isTrue();
        assertThat(PolicyScheduler.sameKind("WAL_STREAM", JobType.BACKUP_INCREMENTAL))
                .isFalse();
        assertThat(PolicyScheduler.sameKind("DR_DRILL", JobType.DR_DRILL)).isTrue();
        assertThat(PolicyScheduler.sameKind("BACKUP_FULL", JobType.DR_DRILL)).isFalse();
    }
}
