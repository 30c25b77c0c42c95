package dev.lifeboat.cli.commands.quickstart;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.agent.Agent;
import dev.lifeboat.agent.AgentConfig;
import dev.lifeboat.cli.output.StatusTable;
import dev.lifeboat.controller.Controller;
import dev.lifeboat.controller.ControllerConfig;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgValidator;
import dev.lifeboat.proto.v1.JobType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The quickstart's last step: an embedded controller and agent on loopback (plaintext, insecure-dev) run a
 * STANDARD-tier
 * policy against the throwaway cluster — WAL streaming, incremental backups every 15 s, one DR drill to measure the
 * RTO — and then print the RPO/RTO status against the tier. The config files it writes are working samples.
 */
final class QuickstartControlPlane {
    /** How long the quickstart waits for its DR drill past the control-plane window. */
    private static final Duration DRILL_GRACE = Duration.ofMinutes(5);

    private QuickstartControlPlane() {}

    static Map<String, Object> run(Path work, LocalCluster pg, String repoUri, Path keyFile, int seconds, boolean json)
            throws Exception {
        Path controllerYaml = work.resolve("controller.yaml");
        Path agentYaml = work.resolve("agent.yaml");
        Files.writeString(controllerYaml, """
                # quickstart only: plaintext on loopback.
                # Production: tls (lifeboat pki), tokens, webhooks; see docs/controller.md
                insecure-dev: true
                grpc-listen: 127.0.0.1:%d
                http-listen: 127.0.0.1:%d
                state-dir: controller-state
                heartbeat-interval: 2s
                evaluate-interval: 2s
                policies:
                  quickstart:
                    tier: STANDARD
                    full-schedule: "off"
                    incremental-schedule: "0/15 * * * * ?"
                    drill-schedule: "off"
                databases:
                  - {name: quickstart, agent: quickstart-agent, policy: quickstart}
                """.formatted(PgValidator.freePort(), PgValidator.freePort()));
        ControllerConfig cc = ControllerConfig.load(controllerYaml);
        Files.writeString(agentYaml, """
                # quickstart only: plaintext on loopback. Production: tls (lifeboat pki); see docs/agent.md
                id: quickstart-agent
                region: local
                insecure-dev: true
                controller: %s
                listen: 127.0.0.1:%d
                metrics-listen: 127.0.0.1:%d
                state-dir: agent-state
                rpo-probe-interval: 2s
                databases:
                  - name: quickstart
                    pgdata: %s
                    repo: %s
                    key-file: %s
                    wal-stream: true
                """.formatted(
                        cc.grpcListen, PgValidator.freePort(), PgValidator.freePort(), pg.dataDir(), repoUri, keyFile));
        Map<String, Object> out = new LinkedHashMap<>();
        try (Controller controller = Controller.start(cc);
                Agent agent = Agent.start(AgentConfig.load(agentYaml))) {
            say(
                    json,
                    String.format(
                            "7/7 control plane: controller (REST on 127.0.0.1:%d) and agent (metrics on "
                                    + "http://127.0.0.1:%d/metrics) "
                                    + "run a STANDARD-tier policy for %d s: WAL streaming, an incremental backup every "
                                    + "15 s, one DR drill",
                            controller.httpPort(), agent.metricsPort(), seconds));
            Instant end = Instant.now().plusSeconds(seconds);
            while (!agent.linkedToController() && Instant.now().isBefore(end)) {
                Thread.sleep(100);
            }
            Process load = pg.pgbenchAsync(List.of("-c", "1", "-R", "20", "-T", Integer.toString(seconds), "-n"));
            try {
                JobRecord drill =
                        controller.dispatcher().submit("quickstart", JobType.DR_DRILL, Map.of(), "quickstart");
                say(
                        json,
                        "    DR drill " + drill.id()
                                + " started: restore the newest backup, replay the WAL, start and check it");
                while (Instant.now().isBefore(end)) {
                    Thread.sleep(1000);
                }
                // the status below is only measured once the drill has ended: on a busy machine it can outlast the
                // window, so wait for it (bounded) rather than report an RTO nobody measured
                Instant drillLimit = end.plus(DRILL_GRACE);
                if (!ended(controller, drill.id())) {
                    say(
                            json,
                            "    waiting for DR drill " + drill.id() + " to end (at most " + DRILL_GRACE.toMinutes()
                                    + " min more)");
                }
                while (!ended(controller, drill.id()) && Instant.now().isBefore(drillLimit)) {
                    Thread.sleep(500);
                }
            } finally {
                load.destroy();
                load.waitFor();
            }
            List<JobRecord> jobs = controller.jobs().list("quickstart", null, null, 1000);
            Map<String, Long> byState = new LinkedHashMap<>();
            for (JobRecord j : jobs) {
                byState.merge(j.type() + " " + j.state().toLowerCase(), 1L, Long::sum);
            }
            JsonNode status = Controller.JSON.valueToTree(controller.status().all());
            out.put("jobs", byState);
            out.put("status", status);
            out.put("controllerConfig", controllerYaml.toString());
            out.put("agentConfig", agentYaml.toString());
            if (!json) {
                System.out.println("    jobs: " + byState);
                System.out.println();
                StatusTable.print(status);
                System.out.println();
                System.out.println(
                        "Sample configs (plaintext quickstart versions): " + controllerYaml + ", " + agentYaml);
            }
        }
        return out;
    }

    private static boolean ended(Controller controller, String jobId) {
        return controller.jobs().get(jobId).map(JobRecord::ended).orElse(true);
    }

    private static void say(boolean json, String s) {
        if (!json) {
            System.out.println(s);
        }
    }
}
