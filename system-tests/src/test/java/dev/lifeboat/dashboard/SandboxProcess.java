package dev.lifeboat.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * `lifeboat sandbox` from the distribution the build made: a throwaway PostgreSQL 15 under light pgbench load, its
 * repository and a DR region, a real controller and agent on loopback, and a token file per role.
 */
final class SandboxProcess implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    private final Process process;
    private final Path dir;
    private final JsonNode about;
    private final HttpClient http = HttpClient.newHttpClient();

    private SandboxProcess(Process process, Path dir, JsonNode about) {
        this.process = process;
        this.dir = dir;
        this.about = about;
    }

    /** {@code options}: more of the sandbox command's options, e.g. {@code --replicate-dr}. */
    static SandboxProcess start(String database, int scale, String rpo, Map<String, String> env, String... options)
            throws Exception {
        Path home = Path.of(System.getProperty("lifeboat.home", "../dist/target/lifeboat-0.1.0-SNAPSHOT"));
        Path launcher = home.resolve("bin/lifeboat");
        if (!Files.isExecutable(launcher)) {
            throw new IllegalStateException(launcher + " is missing: build the distribution first (bin/build)");
        }
        Path dir = Files.createTempDirectory("lifeboat-dashboard-sandbox-");
        Path work = dir.resolve("sandbox");
        List<String> command = new ArrayList<>(List.of(
                launcher.toString(),
                "sandbox",
                "--dir",
                work.toString(),
                "--database",
                database,
                "--scale",
                Integer.toString(scale),
                "--rpo",
                rpo));
        command.addAll(List.of(options));
        ProcessBuilder pb = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("sandbox.log").toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        Instant deadline = Instant.now().plus(Duration.ofMinutes(6));
        Path json = work.resolve("sandbox.json");
        while (!Files.exists(json)) {
            if (!p.isAlive() || Instant.now().isAfter(deadline)) {
                p.destroy();
                throw new IllegalStateException(
                        "the sandbox did not come up:\n" + Files.readString(dir.resolve("sandbox.log")));
            }
            Thread.sleep(200);
        }
        SandboxProcess s = new SandboxProcess(p, dir, JSON.readTree(json.toFile()));
        // up means the agent streams WAL: the RPO the pages show is measured from then on
        while (Instant.now().isBefore(deadline)) {
            if (s.walStream() != null) {
                return s;
            }
            Thread.sleep(500);
        }
        s.close();
        throw new IllegalStateException("the sandbox never started streaming WAL:\n" + s.log());
    }

    String url() {
        return about.path("controller").asText();
    }

    String token(String role) throws IOException {
        return Files.readString(Path.of(about.path("tokenFiles").path(role).asText()))
                .strip();
    }

    JsonNode about() {
        return about;
    }

    /** The running WAL_STREAM job's id, or null. */
    String walStream() throws Exception {
        for (JsonNode j : get("api/v1/jobs?state=RUNNING", "operator")) {
            if (j.path("type").asText().equals("WAL_STREAM")) {
                return j.path("id").asText();
            }
        }
        return null;
    }

    JsonNode get(String path, String role) throws Exception {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(url() + "/" + path))
                        .header("Authorization", "Bearer " + token(role))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("GET " + path + " -> " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body());
    }

    JsonNode post(String path, String role, String body) throws Exception {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(url() + "/" + path))
                        .header("Authorization", "Bearer " + token(role))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) {
            throw new IllegalStateException("POST " + path + " -> " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body());
    }

    List<JsonNode> list(JsonNode array) {
        List<JsonNode> out = new ArrayList<>();
        array.forEach(out::add);
        return out;
    }

    String log() throws IOException {
        return Files.readString(dir.resolve("sandbox.log"));
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy(); // SIGTERM: the sandbox stops its servers
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
        }
    }
}
