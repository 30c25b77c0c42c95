package dev.lifeboat.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.controller.policy.Inventory;
import dev.lifeboat.controller.policy.Tier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControllerConfigTest {
    @TempDir
    Path tmp;

    private ControllerConfig load(String yaml) throws IOException {
        Path f = tmp.resolve("c.yaml");
        Files.writeString(f, yaml);
        return ControllerConfig.load(f);
    }

    @Test
    void tiersExpandToTheirPresetsAndPoliciesOverrideThem() throws Exception {
        ControllerConfig c = load("""
                state-dir: s
                insecure-dev: true
                policies:
                  p: {tier: HIGH, rpo: 2m, incremental-schedule: "0 */5 * * * ?"}
                databases:
                  - {name: a, agent: x, policy: p}
                  - {name: b, agent: x, policy: critical}
                """);
        Inventory inv = new Inventory(c);
        var a = inv.require("a").policy();
        assertThat(a.tier()).isEqualTo(Tier.HIGH);
        assertThat(a.rto()).isEqualTo(Duration.ofHours(1));
        assertThat(a.rpo()).isEqualTo(Duration.ofMinutes(2));
        assertThat(a.incrementalCron()).isEqualTo("0 */5 * * * ?");
        assertThat(a.fullCron()).isEqualTo(Tier.HIGH.fullCron);
        var b = inv.require("b").policy();
        assertThat(b.rto()).isEqualTo(Duration.ofMinutes(15));
        assertThat(b.rpo()).isEqualTo(Duration.ofMinutes(1));
        assertThat(b.replicationMode()).isEqualTo(Tier.ReplicationMode.SYNC);
        assertThat(Tier.STANDARD.rto).isEqualTo(Duration.ofHours(2));
        assertThat(Tier.STANDARD.rpo).isEqualTo(Duration.ofMinutes(15));
        assertThat(Tier.LOWER.rto).isEqualTo(Duration.ofHours(24));
        assertThat(Tier.LOWER.rpo).isEqualTo(Duration.ofHours(1));
    }

    @Test
    void mistakesAreNamed() {
        assertThatThrownBy(() -> load("state-dir: s\ninsecure-dev: true\ngrpc-lisen: 1.2.3.4:1\n"))
                .hasMessageContaining("grpc-lisen");
        assertThatThrownBy(() -> load("state-dir: s\n")).hasMessageContaining("pki");
        assertThatThrownBy(() -> load("state-dir: s\ninsecure-dev: true\ngrpc-listen: 0.0.0.0:7443\n"))
                .hasMessageContaining("loopback");
        assertThatThrownBy(() ->
                        load("state-dir: s\ninsecure-dev: true\ndatabases:\n  - {name: a, agent: x, policy: GOLD}\n"))
                .hasMessageContaining("GOLD");
        assertThatThrownBy(() -> new Inventory(loadUnchecked(
                        "state-dir: s\ninsecure-dev: true\npolicies:\n  p: {incremental-schedule: \"every day\"}\n")))
                .hasMessageContaining("cron");
        assertThatThrownBy(() ->
                        load("state-dir: s\ninsecure-dev: true\ntokens:\n  - {name: t, role: boss, sha256: ab}\n"))
                .hasMessageContaining("boss");
    }

    private ControllerConfig loadUnchecked(String yaml) {
        try {
            return load(yaml);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
