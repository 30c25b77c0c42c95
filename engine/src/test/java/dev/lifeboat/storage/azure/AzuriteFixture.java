package dev.lifeboat.storage.azure;

import com.azure.core.http.jdk.httpclient.JdkHttpClientBuilder;
import com.azure.storage.blob.BlobServiceClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.common.StorageSharedKeyCredential;
import dev.lifeboat.storage.ExternalServer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One Azurite blob server per test JVM, run from the project-local npm install that {@code bin/setup} makes in
 * {@code .tools/} of the checkout; in-memory, so nothing is left behind.
 */
public final class AzuriteFixture {
    public static final String CONTAINER = "lifeboat-test";
    /** Azurite's well-known development account and key (published in Azure's documentation, not a secret). */
    public static final String ACCOUNT = "devstoreaccount1";

    public static final String KEY =
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /**
     * A second account on the same server, with its own key: what an independent DR region is given. Azurite checks
     * every request's shared-key signature against the named account's key.
     */
    public static final String DR_ACCOUNT = "drstore";

    public static final String DR_KEY = "ZHItcmVnaW9uLWtleS1mb3ItdGVzdHMtb25seS1ub3QtYS1zZWNyZXQtMDEyMzQ1Njc4OQ==";

    private static final ExternalServer.Shared<AzuriteFixture> SHARED =
            new ExternalServer.Shared<>("Azurite", AzuriteFixture::start);

    public final String endpoint;

    private AzuriteFixture(String endpoint) {
        this.endpoint = endpoint;
    }

    public static AzuriteFixture get() throws Exception {
        return SHARED.get();
    }

    private static Path checkoutRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("mvnw")) && Files.isDirectory(p.resolve("bin"))) {
                return p;
            }
        }
        throw new IllegalStateException("cannot find the checkout root (the directory with mvnw) above "
                + Path.of("").toAbsolutePath());
    }

    /**
     * The command that runs Azurite's blob service on {@code port} of the loopback address, in memory, and
     * {@code extra} options (e.g. TLS and token checks), for tests that start one of their own.
     */
    public static List<String> command(int port, String... extra) {
        Path root = checkoutRoot();
        Path azurite = root.resolve(".tools/node_modules/.bin/azurite-blob");
        if (!Files.isExecutable(azurite)) {
            throw new IllegalStateException("Azurite is not installed at " + azurite
                    + ": run bin/setup (it installs it into " + root.resolve(".tools") + " with npm)");
        }
        List<String> cmd = new ArrayList<>(List.of(
                azurite.toString(),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                String.valueOf(port),
                "--inMemoryPersistence",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--silent"));
        cmd.addAll(List.of(extra));
        return cmd;
    }

    private static AzuriteFixture start() throws Exception {
        Path root = checkoutRoot();
        Path work = Files.createTempDirectory(Files.createDirectories(root.resolve("engine/target")), "azurite-");
        int port = ExternalServer.freePort();
        String endpoint = "http://127.0.0.1:" + port + "/" + ACCOUNT;
        List<String> cmd = new ArrayList<>(List.of(
                "/usr/bin/env",
                // naming accounts replaces the default one, so it is named too
                "AZURITE_ACCOUNTS=" + ACCOUNT + ":" + KEY + ";" + DR_ACCOUNT + ":" + DR_KEY));
        cmd.addAll(command(port));
        ExternalServer.start("azurite", cmd, work, URI.create(endpoint + "?comp=list"), Duration.ofSeconds(60));
        AzuriteFixture fixture = new AzuriteFixture(endpoint);
        fixture.rawClient().createBlobContainerIfNotExists(CONTAINER);
        return fixture;
    }

    /** The blob endpoint of {@link #DR_ACCOUNT}. */
    public String drEndpoint() {
        return endpoint.substring(0, endpoint.length() - ACCOUNT.length()) + DR_ACCOUNT;
    }

    /** A plain SDK client, to look at what the store wrote. */
    BlobServiceClient rawClient() {
        return new BlobServiceClientBuilder()
                .endpoint(endpoint)
                .credential(new StorageSharedKeyCredential(ACCOUNT, KEY))
                .httpClient(new JdkHttpClientBuilder().build())
                .buildClient();
    }

    /** Shared-key settings with small blocks, so an 11 MiB object is uploaded as several blocks. */
    public AzureSettings settings() {
        return AzureSettings.sharedKey(endpoint, ACCOUNT, KEY)
                .withUploads(6L << 20, 5L << 20, 4)
                .withMaxTries(3);
    }
}
