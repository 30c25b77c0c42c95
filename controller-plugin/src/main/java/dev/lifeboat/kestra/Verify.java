package dev.lifeboat.kestra;

import io.kestra.core.models.annotations.Example;
import io.kestra.core.models.annotations.Plugin;
import io.kestra.core.models.property.Property;
import io.kestra.core.runners.RunContext;
import io.swagger.v3.oas.annotations.media.Schema;
import java.util.LinkedHashMap;
import java.util.Map;
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
        title = "Verify a database's backups in the repository",
        description = "Runs the VERIFY job through the Lifeboat controller: checks that every backup's manifest and "
                + "chunks are present (and with readData, decrypts and hashes every chunk). The task fails when the "
                + "verification finds problems.")
@Plugin(examples = {@Example(title = "Read back every chunk of the newest backup", code = """
                            id: verify
                            type: "dev.lifeboat.kestra.Verify"
                            url: https://lifeboat.example.com:8443
                            token: "{{ secret('LIFEBOAT_TOKEN') }}"
                            database: orders
                            backupId: "{{ outputs.backup.backupId }}"
                            readData: true
                            """)})
public class Verify extends JobTask {
    @Schema(title = "The backup to verify (default: all)")
    protected Property<String> backupId;

    @Schema(title = "Decrypt and hash every chunk, not only check that it exists")
    protected Property<Boolean> readData;

    @Override
    protected String jobType() {
        return "VERIFY";
    }

    @Override
    protected Map<String, Object> params(RunContext rc) throws Exception {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("backup_id", rc.render(backupId).as(String.class).orElse(null));
        p.put(
                "read_data",
                rc.render(readData).as(Boolean.class).map(String::valueOf).orElse(null));
        return p;
    }
}
