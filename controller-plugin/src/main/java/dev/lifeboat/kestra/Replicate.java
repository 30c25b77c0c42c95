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
        title = "Copy a database's repository to its other regions now",
        description = "Runs one REPLICATE pass through the Lifeboat controller: the agent copies new backups and WAL "
                + "to each region of the database's replication config (or the ones named), e.g. before a "
                + "drill from the DR region.")
@Plugin(examples = {@Example(title = "Bring the DR region up to date", code = """
                            id: replicate
                            type: "dev.lifeboat.kestra.Replicate"
                            url: https://lifeboat.example.com:8443
                            token: "{{ secret('LIFEBOAT_TOKEN') }}"
                            database: orders
                            region: dr
                            """)})
public class Replicate extends JobTask {
    @Schema(title = "Regions to copy to, comma-separated (default: every region of the replication config)")
    protected Property<String> region;

    @Override
    protected String jobType() {
        return "REPLICATE";
    }

    @Override
    protected Map<String, Object> params(RunContext rc) throws Exception {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("region", rc.render(region).as(String.class).orElse(null));
        p.put("control", control());
        return p;
    }

    /** A pass when null; otherwise the control state to set (pause, resume). */
    protected String control() {
        return null;
    }
}
