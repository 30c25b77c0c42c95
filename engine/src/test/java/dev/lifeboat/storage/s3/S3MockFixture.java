package dev.lifeboat.storage.s3;

import dev.lifeboat.storage.ExternalServer;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * One S3Mock server per test JVM, run from the standalone jar the build copies to {@code target/test-tools/s3mock.jar}
 * (maven-dependency-plugin, before the tests). Its store lives in a temporary directory under {@code target/}.
 */
public final class S3MockFixture {
    public static final String BUCKET = "lifeboat-test";
    private static final ExternalServer.Shared<S3MockFixture> SHARED =
            new ExternalServer.Shared<>("S3Mock", S3MockFixture::start);

    public final String endpoint;

    private S3MockFixture(String endpoint) {
        this.endpoint = endpoint;
    }

    public static S3MockFixture get() throws Exception {
        return SHARED.get();
    }

    private static S3MockFixture start() throws Exception {
        Path jar = Path.of(System.getProperty("lifeboat.test.s3mock.jar", "target/test-tools/s3mock.jar"));
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("S3Mock server jar not found at " + jar.toAbsolutePath()
                    + "; run the tests through Maven (./mvnw -pl engine test), which copies it there");
        }
        Path work = Files.createTempDirectory(
                Files.createDirectories(Path.of("target").toAbsolutePath()), "s3mock-");
        int http = ExternalServer.freePort();
        int https = ExternalServer.freePort();
        String java = ProcessHandle.current().info().command().orElse("java");
        ExternalServer.start(
                "s3mock",
                List.of(
                        java,
                        "-Xmx512m",
                        "-XX:+UseSerialGC",
                        "-XX:TieredStopAtLevel=1",
                        "-jar",
                        jar.toAbsolutePath().toString(),
                        "--http.port=" + http,
                        "--server.port=" + https,
                        "--com.adobe.testing.s3mock.store.root=" + work.resolve("store"),
                        "--spring.main.banner-mode=off"),
                work,
                URI.create("http://127.0.0.1:" + http + "/"),
                Duration.ofSeconds(90));
        String endpoint = "http://127.0.0.1:" + http;
        S3MockFixture fixture = new S3MockFixture(endpoint);
        try (S3Client s3 = fixture.rawClient()) {
            s3.createBucket(b -> b.bucket(BUCKET));
        }
        return fixture;
    }

    /** A plain SDK client, to look at what the store wrote. */
    S3Client rawClient() {
        return S3Client.builder()
                .endpointOverride(URI.create(endpoint))
                .forcePathStyle(true)
                .region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("test", "test")))
                .build();
    }

    /** Settings for the test server: static keys (S3Mock accepts any), small parts so 11 MiB takes the multipart path.
     * */
    public S3Settings settings() {
        return S3Settings.defaults()
                .withEndpoint(endpoint, "us-east-1", true)
                .withStaticCredentials("test", "test")
                .withMultipart(6L << 20, S3Settings.MIN_PART_SIZE, 4)
                .withMaxAttempts(3);
    }
}
