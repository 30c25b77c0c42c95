package dev.lifeboat.kestra;

import io.kestra.core.models.annotations.Example;
import io.kestra.core.models.annotations.Metric;
import io.kestra.core.models.annotations.Plugin;
import io.kestra.core.models.executions.metrics.Counter;
import io.kestra.core.models.executions.metrics.Timer;
import io.swagger.v3.oas.annotations.media.Schema;
import lombok.EqualsAndHashCode;
import lombok.Getter;
import lombok.NoArgsConstructor;
import lombok.ToString;
import lombok.experimental.SuperBuilder;

@SuperBuilder
@ToString
@EqualsAndHashCode
@Getter
@NoArgsConstructor
@Schema(
        title = "Take an incremental backup of a PostgreSQL database",
        description = "Runs the BACKUP_INCREMENTAL job through the Lifeboat controller: an online backup of what "
                + "changed since the newest backup (a full one when there is none). Same properties and outputs as "
                + "BackupFull.")
@Plugin(
        examples = {@Example(title = "An incremental backup of `orders`", code = """
                            id: incremental
                            type: "dev.lifeboat.kestra.BackupIncremental"
                            url: https://lifeboat.example.com:8443
                            token: "{{ secret('LIFEBOAT_TOKEN') }}"
                            database: orders
                            """)},
        metrics = {
            @Metric(name = "bytes", type = Counter.TYPE, unit = "bytes", description = "bytes read from the database"),
            @Metric(name = "duration", type = Timer.TYPE, description = "how long the job ran")
        })
public class BackupIncremental extends BackupFull {
    @Override
    protected String jobType() {
        return "BACKUP_INCREMENTAL";
    }
}
