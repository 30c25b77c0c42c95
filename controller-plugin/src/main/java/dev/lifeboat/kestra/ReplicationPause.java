package dev.lifeboat.kestra;

import io.kestra.core.models.annotations.Example;
import io.kestra.core.models.annotations.Plugin;
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
        title = "Pause replication of a database's repository to its regions",
        description = "Runs REPLICATE with control=pause through the Lifeboat controller: sets the control state the "
                + "regions' replicators follow, as `lifeboat replication pause` does. No copy is made.")
@Plugin(examples = {@Example(title = "Pause copying to the DR region", code = """
                            id: pause
                            type: "dev.lifeboat.kestra.ReplicationPause"
                            url: https://lifeboat.example.com:8443
                            token: "{{ secret('LIFEBOAT_TOKEN') }}"
                            database: orders
                            region: dr
                            """)})
public class ReplicationPause extends Replicate {
    @Override
    protected String control() {
        return "pause";
    }
}
