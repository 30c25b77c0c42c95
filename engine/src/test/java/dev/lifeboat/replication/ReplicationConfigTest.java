package dev.lifeboat.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.storage.StoreConfig;
import dev.lifeboat.storage.azure.AzureSettings;
import dev.lifeboat.storage.s3.S3Settings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
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

    @Test
    void aRegionsOwnStoreSettingsAreCheckedWhenTheConfigIsRead() throws Exception {
        assertThatThrownBy(() -> load("""
                        {"regions": [{"name": "eu", "uri": "s3://b/p",
                          "store": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "file:/etc/x"}}]}"""))
                .hasMessageContaining("region eu")
                .hasMessageContaining("accessKeyId must say where the secret is");
        String typo = """
                {"regions": [{"name": "eu", "uri": "s3://b/p", "store": {"acount": "x"}}]}""";
        assertThatThrownBy(() -> load(typo)).as("a typo").hasMessageContaining("[acount] are unknown");
        assertThatThrownBy(() -> load("""
                        {"regions": [{"name": "az", "uri": "azure://c/p", "store": {"profile": "dr"}}]}"""))
                .as("an S3 setting on an Azure region")
                .hasMessageContaining("Azure store settings [profile] are unknown");
        assertThatThrownBy(() -> load("""
                        {"regions": [{"name": "d", "uri": "file:///srv/dr", "store": {"endpoint": "x"}}]}"""))
                .as("a local-disk region has no settings")
                .hasMessageContaining("local-disk store settings [endpoint] are unknown");
        ReplicationConfig c = load("""
                {"regions": [{"name": "eu", "uri": "s3://b/p", "store": {"region": "eu-central-1", "profile": "dr"}},
                             {"name": "us", "uri": "s3://b2/p"}]}""");
        assertThat(c.region("eu").storeConfig().get("profile")).isEqualTo("dr");
        assertThat(c.region("us").storeConfig())
                .as("the environment's settings")
                .isNull();
    }

    @Test
    void secretsComeFromTheEnvironmentOrAFileNeverFromTheConfig() throws Exception {
        Path secret = tmp.resolve("eu.secret");
        Files.writeString(secret, "\n  s3cr3t  \nignored\n");
        Map<String, String> env = Map.of("DR_KEY_ID", "AKIADR");
        StoreConfig c = new StoreConfig(
                "region eu",
                Map.of(
                        "accessKeyId",
                        "env:DR_KEY_ID",
                        "secretAccessKey",
                        "file:" + secret,
                        "missing",
                        "env:NOPE",
                        "literal",
                        "hunter2",
                        "pathStyle",
                        true),
                env::get);
        assertThat(c.secret("accessKeyId")).isEqualTo("AKIADR");
        assertThat(c.secret("secretAccessKey")).as("the first non-blank line").isEqualTo("s3cr3t");
        assertThat(c.secret("absent")).isNull();
        assertThat(c.flag("pathStyle", false)).isTrue();
        assertThatThrownBy(() -> c.secret("missing")).hasMessageContaining("NOPE, which is unset");
        assertThatThrownBy(() -> c.secret("literal"))
                .hasMessageContaining("env:VARIABLE or file:/path")
                .hasMessageNotContaining("hunter2");
        S3Settings s3 = S3Settings.fromConfig(new StoreConfig(
                "region eu",
                Map.of(
                        "endpoint",
                        "http://127.0.0.1:9",
                        "accessKeyId",
                        "env:DR_KEY_ID",
                        "secretAccessKey",
                        "file:" + secret),
                env::get));
        assertThat(s3.accessKeyId()).isEqualTo("AKIADR");
        assertThat(s3.pathStyle()).as("path style by default with an endpoint").isTrue();
        assertThatThrownBy(() -> S3Settings.fromConfig(
                        new StoreConfig("region eu", Map.of("accessKeyId", "env:DR_KEY_ID"), env::get)))
                .hasMessageContaining("need both accessKeyId and secretAccessKey");
        assertThatThrownBy(() ->
                        AzureSettings.fromConfig(new StoreConfig("region az", Map.of("account", "acct"), env::get)))
                .as("no secret: refused, not the host's identity (which may be the primary's)")
                .hasMessageContaining("region az: Azure store settings need connectionString, or account with "
                        + "accountKey, or sasToken, or \"auth\": \"entra-id\"");
        AzureSettings entra = AzureSettings.fromConfig(new StoreConfig(
                "region az",
                Map.of("account", "acct", "auth", "entra-id", "managedIdentityClientId", "dr-identity"),
                env::get));
        assertThat(entra.usesEntraId()).isTrue();
        assertThat(entra.entraId().managedIdentityClientId()).isEqualTo("dr-identity");
        assertThatThrownBy(() -> AzureSettings.fromConfig(new StoreConfig(
                        "region az",
                        Map.of("endpoint", "http://127.0.0.1:9/acct", "account", "acct", "auth", "entra-id"),
                        env::get)))
                .hasMessageContaining("region az: Azure endpoint http://127.0.0.1:9/acct is not https");
        assertThatThrownBy(() -> AzureSettings.fromConfig(new StoreConfig(
                        "region az",
                        Map.of("account", "acct", "accountKey", "env:DR_KEY_ID", "managedIdentityClientId", "x"),
                        env::get)))
                .hasMessageContaining("managedIdentityClientId needs");
    }

    @Test
    void aWriteOnceRegionIsReadAndCannotBeSynchronous() throws Exception {
        ReplicationConfig c = load("""
                {"regions": [{"name": "vault", "uri": "s3://b/p",
                              "immutable": {"days": 30, "mode": "compliance"}}]}""");
        assertThat(c.region("vault").immutable().days()).isEqualTo(30);
        assertThat(c.region("vault").immutable().mode()).isEqualTo("COMPLIANCE");
        assertThat(c.region("vault").storeConfig().hasSettings())
                .as("the environment's endpoint and credentials, with a retention")
                .isFalse();
        String sync = """
                {"regions": [{"name": "vault", "uri": "s3://b/p", "mode": "sync", "immutable": {"days": 30}}]}""";
        assertThatThrownBy(() -> load(sync)).hasMessageContaining("cannot be synchronous");
        String zero = """
                {"regions": [{"name": "vault", "uri": "s3://b/p", "immutable": {"days": 0}}]}""";
        assertThatThrownBy(() -> load(zero)).hasMessageContaining("at least 1 day");
    }
}
