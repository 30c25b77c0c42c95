package dev.lifeboat.controlplane;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.lifeboat.controller.client.ControllerClient;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.PgValidator;
import dev.lifeboat.security.Pki;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * A control plane on loopback for tests, every part a real process: a CA with controller and agent certificates, a
 * controller, agents, and a webhook receiver (a JDK HTTP server) that records every alert delivered.
 */
final class ControlPlaneFixture implements AutoCloseable {
    final Path dir;
    final Path pki;
    final int grpcPort = PgValidator.freePort();
    final int httpPort = PgValidator.freePort();
    final Map<String, Path> tokens = new LinkedHashMap<>();
    final List<String> webhookBodies = Collections.synchronizedList(new ArrayList<>());
    private final HttpServer webhook;
    Process controller;
    final Map<String, Process> agents = new ConcurrentHashMap<>();

    ControlPlaneFixture(Path dir) throws IOException {
        this.dir = dir;
        this.pki = dir.resolve("pki");
        Pki.initCa(pki, "Test CA", Duration.ofDays(30));
        Pki.issue(
                pki,
                Pki.Role.CONTROLLER,
                "controller",
                List.of("localhost"),
                List.of("127.0.0.1"),
                Duration.ofDays(30),
                pki);
        for (String role : List.of("viewer", "operator", "admin")) {
            Path f = dir.resolve(role + ".token");
            Files.writeString(f, role + "-" + UUID.randomUUID());
            tokens.put(role, f);
        }
        webhook = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        webhook.createContext("/hook", ex -> {
            webhookBodies.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            ex.sendResponseHeaders(202, -1);
            ex.close();
        });
        webhook.start();
    }

    Path agentCert(String name) throws IOException {
        if (!Files.exists(pki.resolve(name + ".crt"))) {
            Pki.issue(pki, Pki.Role.AGENT, name, List.of("localhost"), List.of("127.0.0.1"), Duration.ofDays(30), pki);
        }
        return pki;
    }

    /** The controller's config; {@code extra} is appended (policies, databases). */
    Path writeControllerConfig(String extra) throws IOException {
        Path f = dir.resolve("controller.yaml");
        String tokensYaml = String.join(
                "\n",
                tokens.entrySet().stream()
                        .map(e -> "  - {name: " + e.getKey() + ", role: " + e.getKey() + ", token-file: " + e.getValue()
                                + "}")
                        .toList());
        Files.writeString(
                f,
                """
                grpc-listen: 127.0.0.1:%d
                http-listen: 127.0.0.1:%d
                state-dir: %s
                tls: {ca: %s, cert: %s, key: %s}
                heartbeat-interval: 1s
                evaluate-interval: 1s
                tokens:
                %s
                webhooks:
                  - {name: test, url: "http://127.0.0.1:%d/hook", format: pagerduty, routing-key: test-key}
                """.formatted(
                                        grpcPort,
                                        httpPort,
                                        dir.resolve("controller-state"),
                                        pki.resolve("ca.crt"),
                                        pki.resolve("controller.crt"),
                                        pki.resolve("controller.key"),
                                        tokensYaml,
                                        webhook.getAddress().getPort())
                        + extra);
        return f;
    }

    void startController() throws IOException {
        controller = PgTestSupport.cliProcess(
                dir.resolve("controller-" + Instant.now().toEpochMilli() + ".log"),
                "controller",
                "--config",
                dir.resolve("controller.yaml").toString());
    }

    /** Writes an agent config (databases as YAML list items, may be empty) and starts the agent. */
    Path writeAgentConfig(String name, String region, Path certDir, String databasesYaml) throws IOException {
        Path f = dir.resolve(name + ".yaml");
        Files.writeString(f, """
                id: %s
                region: %s
                controller: 127.0.0.1:%d
                listen: 127.0.0.1:%d
                metrics-listen: 127.0.0.1:%d
                state-dir: %s
                max-concurrent-jobs: 2
                rpo-probe-interval: 1s
                tls: {ca: %s, cert: %s, key: %s}
                databases:%s
                """.formatted(
                        name,
                        region,
                        grpcPort,
                        PgValidator.freePort(),
                        PgValidator.freePort(),
                        dir.resolve(name + "-state"),
                        pki.resolve("ca.crt"),
                        certDir.resolve(name + ".crt"),
                        certDir.resolve(name + ".key"),
                        databasesYaml.isBlank() ? " []" : "\n" + databasesYaml));
        return f;
    }

    Process startAgent(String name) throws IOException {
        Process p = PgTestSupport.cliProcess(
                dir.resolve(name + "-" + Instant.now().toEpochMilli() + ".log"),
                "agent",
                "--config",
                dir.resolve(name + ".yaml").toString());
        agents.put(name, p);
        return p;
    }

    ControllerClient client(String role) throws IOException {
        return new ControllerClient(
                URI.create("https://127.0.0.1:" + httpPort + "/"),
                Files.readString(tokens.get(role)).trim(),
                pki.resolve("ca.crt"));
    }

    JsonNode agentsSeen() throws IOException {
        return client("viewer").get("api/v1/agents");
    }

    boolean connected(String agent) {
        try {
            for (JsonNode a : agentsSeen()) {
                if (a.path("id").asText().equals(agent)) {
                    return a.path("connected").asBoolean();
                }
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    static void kill9(Process p) throws Exception {
        new ProcessBuilder("kill", "-9", Long.toString(p.pid())).start().waitFor();
        p.waitFor();
    }

    static <T> T waitFor(String what, Duration timeout, Callable<T> probe) throws Exception {
        Instant end = Instant.now().plus(timeout);
        Exception last = null;
        while (Instant.now().isBefore(end)) {
            try {
                T v = probe.call();
                if (v != null && !Boolean.FALSE.equals(v)) {
                    return v;
                }
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what
                + (last == null ? "" : " (last error: " + last + ")"));
    }

    /** The newest log of a process started by this fixture (agent name or "controller"). */
    String logOf(String name) throws IOException {
        try (var files = Files.list(dir)) {
            Path newest = files.filter(f -> f.getFileName().toString().matches(Pattern.quote(name) + "-\\d+\\.log"))
                    .max(Comparator.naturalOrder())
                    .orElseThrow();
            return Files.readString(newest);
        }
    }

    String logs() throws IOException {
        StringBuilder b = new StringBuilder();
        try (var files = Files.list(dir)) {
            for (Path p :
                    files.filter(f -> f.toString().endsWith(".log")).sorted().toList()) {
                String text = Files.readString(p);
                b.append("==== ")
                        .append(p.getFileName())
                        .append('\n')
                        .append(text.length() > 6000 ? text.substring(text.length() - 6000) : text)
                        .append('\n');
            }
        }
        return b.toString();
    }

    @Override
    public void close() throws Exception {
        for (Process p : agents.values()) {
            p.destroyForcibly().waitFor();
        }
        if (controller != null) {
            controller.destroyForcibly().waitFor();
        }
        webhook.stop(0);
    }
}
