package dev.lifeboat.storage.gcs;

import com.google.cloud.NoCredentials;
import dev.lifeboat.storage.ExternalServer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * One Cloud Storage emulator per test JVM: the one in the npm package {@code firebase-tools}, which {@code bin/setup}
 * installs into {@code .tools/} of the checkout, run by {@code engine/src/test/node/gcs-emulator.cjs} (the
 * emulator alone, without the Firebase rules runtime it would download, and with a multipart parser that accepts the
 * headers the Java client sends). It speaks the GCS JSON API over HTTP, so the real Java client talks to it as to GCS.
 * It creates buckets on first use and keeps objects in memory.
 */
public final class GcsEmulatorFixture {
    public static final String BUCKET = "lifeboat-test";

    private static final ExternalServer.Shared<GcsEmulatorFixture> SHARED =
            new ExternalServer.Shared<>("the GCS emulator", GcsEmulatorFixture::start);

    public final String endpoint;

    private GcsEmulatorFixture(String endpoint) {
        this.endpoint = endpoint;
    }

    public static GcsEmulatorFixture get() throws Exception {
        return SHARED.get();
    }

    static Path checkoutRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("mvnw")) && Files.isDirectory(p.resolve("bin"))) {
                return p;
            }
        }
        throw new IllegalStateException("cannot find the checkout root (the directory with mvnw) above "
                + Path.of("").toAbsolutePath());
    }

    private static GcsEmulatorFixture start() throws Exception {
        Path root = checkoutRoot();
        Path tools = root.resolve(".tools/node_modules/firebase-tools");
        if (!Files.isRegularFile(tools.resolve("lib/emulator/storage/index.js"))) {
            throw new IllegalStateException("firebase-tools (the Cloud Storage emulator) is not installed at " + tools
                    + ": run bin/setup (it installs it into " + root.resolve(".tools") + " with npm)");
        }
        Path script = root.resolve("engine/src/test/node/gcs-emulator.cjs");
        Path work = Files.createTempDirectory(Files.createDirectories(root.resolve("engine/target")), "gcs-emulator-");
        int port = ExternalServer.freePort();
        String endpoint = "http://127.0.0.1:" + port;
        // TMPDIR: the emulator keeps upload bodies under it, so each instance gets its own
        ExternalServer.start(
                "gcs-emulator",
                List.of(
                        "/usr/bin/env",
                        "TMPDIR=" + work,
                        "node",
                        script.toString(),
                        tools.toString(),
                        "127.0.0.1",
                        String.valueOf(port)),
                work,
                URI.create(endpoint + "/storage/v1/b"),
                Duration.ofSeconds(60));
        return new GcsEmulatorFixture(endpoint);
    }

    /**
     * Settings for the emulator: no credentials, few attempts; objects up to 6 MiB as one multipart request, larger
     * ones
     * as a resumable upload in one 16 MiB chunk (the emulator finalizes a resumable upload on its first data request).
     */
    public GcsSettings settings() {
        return GcsSettings.defaults()
                .withEndpoint(endpoint, "lifeboat-test")
                .withCredentials(NoCredentials.getInstance())
                .withUploads(6L << 20, 16 << 20)
                .withRetries(3, Duration.ofSeconds(30));
    }
}
