package dev.lifeboat.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.common.Durations;
import dev.lifeboat.common.HostPort;
import dev.lifeboat.repository.compress.Compression;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentConfigTest {
    @TempDir
    Path dir;

    AgentConfig load(String yaml) throws Exception {
        Path f = dir.resolve("agent.yaml");
        Files.writeString(f, yaml);
        return AgentConfig.load(f);
    }

    @Test
    void minimalConfigGetsTheDocumentedDefaultsAndRelativePathsResolveNextToTheFile() throws Exception {
        Files.writeString(dir.resolve("repo.key"), "secret");
        AgentConfig c = load("""
                id: db1-agent
                region: eu-west
                insecure-dev: true
                state-dir: state
                databases:
                  - name: main
                    pgdata: /var/lib/postgresql/15/main
                    repo: file:///srv/repo
                    key-file: repo.key
                    pgport: 5433
                """);
        assertThat(c.id()).isEqualTo("db1-agent");
        assertThat(c.region()).isEqualTo("eu-west");
        assertThat(c.controller()).isNull();
        assertThat(c.listen()).isEqualTo(new HostPort("127.0.0.1", 7444));
        assertThat(c.metricsListen()).isEqualTo(new HostPort("127.0.0.1", 9187));
        assertThat(c.maxConcurrentJobs()).isEqualTo(2);
        assertThat(c.rpoProbeInterval()).isEqualTo(Duration.ofSeconds(10));
        assertThat(c.stateDir()).isEqualTo(dir.resolve("state"));
        assertThat(c.jobsDir()).isEqualTo(dir.resolve("state/jobs"));
        AgentConfig.Database db = c.database("main");
        assertThat(db.keyFile()).isEqualTo(dir.resolve("repo.key"));
        assertThat(db.pgport()).isEqualTo(5433);
        assertThat(db.compression()).isEqualTo("low");
        assertThat(db.parallel()).isEqualTo(2);
        assertThat(db.walStream()).isFalse();
        assertThatThrownBy(() -> c.database("other")).hasMessageContaining("has no database 'other'; it knows main");
    }

    @Test
    void everySettingIsRead() throws Exception {
        AgentConfig c = load("""
                id: a
                region: r
                controller: "[::1]:7443"
                listen: localhost:7000
                metrics-listen: 127.0.0.1:9000
                max-concurrent-jobs: 4
                rpo-probe-interval: 1m
                insecure-dev: yes
                databases:
                  - {name: x, pghost: /run/postgresql, pguser: backup, repo: "s3://b/p", wal-stream: true,
                     compression: lz4, parallel: 8}
                """);
        assertThat(c.controller()).isEqualTo(new HostPort("::1", 7443));
        assertThat(c.controller().target()).isEqualTo("[::1]:7443");
        assertThat(c.listen()).isEqualTo(new HostPort("localhost", 7000));
        assertThat(c.maxConcurrentJobs()).isEqualTo(4);
        assertThat(c.rpoProbeInterval()).isEqualTo(Duration.ofMinutes(1));
        AgentConfig.Database x = c.database("x");
        assertThat(x.walStream()).isTrue();
        assertThat(x.pghost()).isEqualTo("/run/postgresql");
        assertThat(x.pguser()).isEqualTo("backup");
        assertThat(x.parallel()).isEqualTo(8);
        assertThat(x.parsedCompression()).isEqualTo(Compression.LZ4);
    }

    @Test
    void errorsNameTheKeyThatIsWrong() {
        String base = "id: a\nregion: r\ninsecure-dev: true\n";
        assertThatThrownBy(() -> load(base + "lisen: 127.0.0.1:1\n"))
                .isInstanceOf(AgentConfig.ConfigException.class)
                .hasMessageContaining("lisen: is not a setting")
                .hasMessageContaining("listen");
        assertThatThrownBy(() -> load(base + "databases:\n  - {name: m, repo: 'file:///r', pgprot: 5}\n"))
                .hasMessageContaining("databases[0].pgprot: is not a setting");
        assertThatThrownBy(() -> load(base + "databases:\n  - {name: m, repo: 'file:///r', pgport: 99999}\n"))
                .hasMessageContaining("databases[m].pgport: must be between 1 and 65535");
        assertThatThrownBy(() -> load(base + "databases:\n  - {name: m}\n"))
                .hasMessageContaining("databases[m].repo: is required");
        assertThatThrownBy(() -> load(base + "databases:\n  - {name: m, repo: r}\n  - {name: m, repo: r}\n"))
                .hasMessageContaining("databases[1].name: 'm' is used by another database");
        assertThatThrownBy(() -> load(base + "databases:\n  - {name: m, repo: r, compression: zip}\n"))
                .hasMessageContaining("databases[m].compression: unknown compression 'zip'");
        assertThatThrownBy(() -> load(base + "databases:\n  - {name: m, repo: r, key-file: nope.key}\n"))
                .hasMessageContaining("databases[m].key-file: file " + dir.resolve("nope.key") + " does not exist");
        assertThatThrownBy(() -> load(base + "databases:\n  - {name: m, repo: r, wal-stream: true}\n"))
                .hasMessageContaining("databases[m].wal-stream: needs pgdata");
        assertThatThrownBy(() -> load(base + "rpo-probe-interval: soon\n"))
                .hasMessageContaining("rpo-probe-interval: 'soon' is not a duration");
        assertThatThrownBy(() -> load(base + "max-concurrent-jobs: 0\n"))
                .hasMessageContaining("max-concurrent-jobs: must be between 1");
        assertThatThrownBy(() -> load(base + "listen: 7444\n")).hasMessageContaining("listen: expected host:port");
        assertThatThrownBy(() -> load("region: r\ninsecure-dev: true\n")).hasMessageContaining("id: is required");
        assertThatThrownBy(() -> load("id: 'a b'\nregion: r\ninsecure-dev: true\n"))
                .hasMessageContaining("id: 'a b' may only hold");
        assertThatThrownBy(() -> load("id: [a\n")).hasMessageContaining("is not valid YAML");
        assertThatThrownBy(() -> AgentConfig.load(dir.resolve("missing.yaml"))).hasMessageContaining("does not exist");
    }

    @Test
    void insecureDevIsRefusedOffLoopbackAndTlsIsOtherwiseRequired() {
        assertThatThrownBy(() -> load("id: a\nregion: r\ninsecure-dev: true\nlisten: 0.0.0.0:7444\n"))
                .hasMessageContaining("listen: 0.0.0.0:7444 is not a loopback address");
        assertThatThrownBy(() -> load("id: a\nregion: r\ninsecure-dev: true\ncontroller: 192.0.2.10:7443\n"))
                .hasMessageContaining("controller: 192.0.2.10:7443 is not a loopback address");
        assertThatThrownBy(() -> load("id: a\nregion: r\n")).hasMessageContaining("tls: is required");
        assertThatThrownBy(() -> load("id: a\nregion: r\ntls: {ca: ca.crt, cert: a.crt, key: a.key}\n"))
                .hasMessageContaining("tls.ca: file " + dir.resolve("ca.crt") + " does not exist");
    }

    @Test
    void theAgentIdMustBeTheCommonNameOfItsCertificate() throws Exception {
        TestCerts.Ca ca = TestCerts.ca(dir, "Test CA");
        TestCerts.Leaf leaf = TestCerts.leaf(dir, ca, "db1-agent");
        String tls = "tls: {ca: " + ca.certFile() + ", cert: " + leaf.cert() + ", key: " + leaf.key() + "}\n";
        AgentConfig ok = load("id: db1-agent\nregion: r\n" + tls);
        assertThat(ok.tls().cert()).isEqualTo(leaf.cert());
        assertThat(ok.insecureDev()).isFalse();
        assertThatThrownBy(() -> load("id: db2-agent\nregion: r\n" + tls))
                .hasMessageContaining("id: 'db2-agent' must equal the common name of the agent certificate")
                .hasMessageContaining("('db1-agent')");
        assertThatThrownBy(() -> load("id: db1-agent\nregion: r\ninsecure-dev: true\n" + tls))
                .hasMessageContaining("insecure-dev: is true but tls is set too");
    }

    @Test
    void durations() {
        assertThat(Durations.parse("10s")).isEqualTo(Duration.ofSeconds(10));
        assertThat(Durations.parse("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(Durations.parse("1m")).isEqualTo(Duration.ofMinutes(1));
        assertThat(Durations.parse("2h")).isEqualTo(Duration.ofHours(2));
        assertThat(Durations.parse("1.5s")).isEqualTo(Duration.ofMillis(1500));
        assertThat(Durations.parse("PT30S")).isEqualTo(Duration.ofSeconds(30));
        assertThat(Durations.parse("15")).isEqualTo(Duration.ofSeconds(15));
        assertThatThrownBy(() -> Durations.parse("ten")).hasMessageContaining("'ten' is not a duration");
    }
}
