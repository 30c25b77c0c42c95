package dev.lifeboat.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplicationConfigTest {
    @TempDir
    Path tmp;

    private ReplicationConfig load(String json) throws Exception {
        Path f = tmp.resolve("r.json");
        Files.writeString(f, json);
        return ReplicationConfig.load(f);
    }

    @Test
    void regionsModesAndBandwidths() throws Exception {
        ReplicationConfig c = load("""
                {"regions": [{"name": "eu", "region": "eu-west-1", "uri": "s3://b/p", "mode": "sync"},
                             {"name": "us", "uri": "azure://c/p", "bandwidth": "20MiB"},
                             {"name": "ap", "uri": "gs://b", "mode": "asynchronous", "bandwidth": "1.5 MB"}]}""");
        assertThat(c.region("eu").parsedMode()).isEqualTo(ReplicationConfig.Mode.SYNCHRONOUS);
        assertThat(c.region("us").parsedMode()).isEqualTo(ReplicationConfig.Mode.ASYNCHRONOUS);
        assertThat(c.region("eu").bytesPerSecond()).isZero();
        assertThat(c.region("us").bytesPerSecond()).isEqualTo(20L << 20);
        assertThat(c.region("ap").bytesPerSecond()).isEqualTo(1_500_000L);
        assertThatThrownBy(() -> c.region("mars"))
                .hasMessageContaining("no region 'mars'")
                .hasMessageContaining("[eu, us, ap]");
    }

    @Test
    void badConfigsAreRefusedWithTheReason() {
        assertThatThrownBy(() -> load("{")).hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> load("{\"regions\": []}")).hasMessageContaining("names no regions");
        assertThatThrownBy(() ->
                        load("{\"regions\": [{\"name\": \"a\", \"uri\": \"file:///x\"}, {\"name\": \"a\", \"uri\": "
                                + "\"file:///y\"}]}"))
                .hasMessageContaining("region a is named twice");
        assertThatThrownBy(() -> load("{\"regions\": [{\"name\": \"a b\", \"uri\": \"file:///x\"}]}"))
                .hasMessageContaining("region name 'a b'");
        assertThatThrownBy(() -> load("{\"regions\": [{\"name\": \"eu..1\", \"uri\": \"file:///x\"}]}"))
                .hasMessageContaining("no '..'");
        assertThatThrownBy(() -> load("{\"regions\": [{\"name\": \"a\"}]}"))
                .hasMessageContaining("region a has no uri");
        assertThatThrownBy(() ->
                        load("{\"regions\": [{\"name\": \"a\", \"uri\": \"file:///x\", \"mode\": \"eventually\"}]}"))
                .hasMessageContaining("mode 'eventually' is unknown");
        assertThatThrownBy(() ->
                        load("{\"regions\": [{\"name\": \"a\", \"uri\": \"file:///x\", \"bandwidth\": \"fast\"}]}"))
                .hasMessageContaining("bandwidth 'fast'");
    }
}
