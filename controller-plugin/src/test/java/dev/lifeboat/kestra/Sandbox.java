package dev.lifeboat.kestra;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real Lifeboat for the flows: `lifeboat sandbox` from the distribution the build made (a throwaway PostgreSQL
 * 15 under light write load, its repository and a DR region's copy, a controller and an agent on loopback), with the
 * operator token the surefire configuration hands Kestra as the secret LIFEBOAT_TOKEN. Registered before
 * {@code @KestraTest}, it starts before Kestra does and tells the flows where it is as {@code {{ envs.lifeboat_url }}}.
 */
public final class Sandbox implements BeforeAllCallback, AfterAllCallback {
    /** The sandbox policy's RPO for a test class (default 5m). */
    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.TYPE)
    public @interface Rpo {
        String value();
    }

    static final String OPERATOR_TOKEN = "kestra-test-operator-token";
    static final String DATABASE = "orders";

    private static Process process;
    private static Path dir;
    private static JsonNode about;

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        Path home = Path.of(System.getProperty("lifeboat.home", "../dist/target/lifeboat-0.1.0-SNAPSHOT"));
        Path launcher = home.resolve("bin/lifeboat");
        if (!Files.isExecutable(launcher)) {
            throw new IllegalStateException(launcher + " is missing: build the distribution first (bin/build)");
        }
        dir = Files.createTempDirectory("lifeboat-kestra-sandbox-");
        Path token = dir.resolve("operator.token");
        Files.writeString(token, OPERATOR_TOKEN + "\n");
        Path work = dir.resolve("sandbox");
        process = new ProcessBuilder(List.of(
                        launcher.toString(),
                        "sandbox",
                        "--dir",
                        work.toString(),
                        "--database",
                        DATABASE,
                        "--rpo",
                        Optional.ofNullable(context.getRequiredTestClass().getAnnotation(Rpo.class))
                                .map(Rpo::value)
                                .orElse("5m"),
                        "--operator-token-file",
                        token.toString()))
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("sandbox.log").toFile())
                .start();
        Instant deadline = Instant.now().plus(Duration.ofMinutes(3));
        Path json = work.resolve("sandbox.json");
        while (!Files.exists(json)) {
            if (!process.isAlive() || Instant.now().isAfter(deadline)) {
                throw new IllegalStateException("the sandbox did not come up:\n" + log());
            }
            Thread.sleep(200);
        }
        about = new ObjectMapper().readTree(json.toFile());
        // Kestra reads ENV_-prefixed system properties as {{ envs.* }}
        System.setProperty("ENV_LIFEBOAT_URL", url());
        // the agent streams WAL once its first heartbeat is in: wait for the stream the drills and RPO rely on
        ControllerApi api = api();
        while (Instant.now().isBefore(deadline)) {
            for (JsonNode j : api.get("api/v1/jobs?database=" + DATABASE + "&state=RUNNING")) {
                if (j.path("type").asText().equals("WAL_STREAM")) {
                    return;
                }
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException("the sandbox never started streaming WAL:\n" + log());
    }

    @Override
    public void afterAll(ExtensionContext context) throws Exception {
        if (process != null) {
            process.destroy(); // SIGTERM: the sandbox stops its servers
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    static String url() {
        return about.path("controller").asText();
    }

    static ControllerApi api() {
        return new ControllerApi(url(), OPERATOR_TOKEN);
    }

    static String log() throws IOException {
        return Files.readString(dir.resolve("sandbox.log"));
    }
}
