package dev.lifeboat.storage.azure;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.TestLauncher;
import dev.lifeboat.engine.postgres.TestLauncher.Run;
import dev.lifeboat.security.IssuedCertificate;
import dev.lifeboat.security.Pki;
import dev.lifeboat.storage.ExternalServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Azure with no stored secret: the launcher is given an account, an https endpoint and a managed identity (App
 * Service's protocol: {@code IDENTITY_ENDPOINT} and {@code IDENTITY_HEADER}), and nothing else. It must fetch an Entra
 * ID token from the identity endpoint and present it to Azurite, which runs over TLS with {@code --oauth basic} and
 * checks each token's issuer, audience and lifetime. The identity endpoint is a test server in this JVM, because no
 * Entra ID can run here; hence the name.
 */
class AzureEntraIdWithTestIdentityEndpointTest {
    private static final String IDENTITY_HEADER = "identity-header-" + UUID.randomUUID();
    private static final String STORAGE = "https://storage.azure.com";

    @TempDir
    Path tmp;

    private record TokenRequest(String resource, String header) {}

    @Test
    void aManagedIdentityTokenIsAllARepositoryInAzureNeeds() throws Exception {
        // Azurite's TLS certificate, from a test CA that only the launcher's trust store (and the probe) trust
        Path ca = tmp.resolve("ca");
        Pki.initCa(ca, "azurite test CA", Duration.ofDays(1));
        IssuedCertificate served =
                Pki.issue(ca, Pki.Role.CONTROLLER, "azurite", List.of(), List.of("127.0.0.1"), Duration.ofDays(1), tmp);
        Path cert = served.cert();
        Path key = served.key();
        Path trustStore = trustStoreOf(served.caCert());
        SSLContext tls = trusting(trustStore);

        int port = ExternalServer.freePort();
        String endpoint = "https://127.0.0.1:" + port + "/" + AzuriteFixture.ACCOUNT;
        HttpClient probe = HttpClient.newBuilder().sslContext(tls).build();
        ExternalServer azurite = ExternalServer.start(
                "azurite-oauth",
                AzuriteFixture.command(port, "--cert", cert.toString(), "--key", key.toString(), "--oauth", "basic"),
                tmp.resolve("azurite"),
                () -> answers(probe, endpoint + "?comp=list"),
                endpoint,
                Duration.ofSeconds(60));
        List<TokenRequest> tokenRequests = new CopyOnWriteArrayList<>();
        AtomicReference<String> audience = new AtomicReference<>(STORAGE);
        AtomicBoolean failing = new AtomicBoolean();
        HttpServer identity = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        identity.createContext("/msi/token", exchange -> {
            try (InputStream ignored = exchange.getRequestBody()) {
                String query = exchange.getRequestURI().getQuery();
                String resource = query == null ? null : param(query, "resource");
                String header = exchange.getRequestHeaders().getFirst("X-IDENTITY-HEADER");
                tokenRequests.add(new TokenRequest(resource, header));
                byte[] body;
                int status;
                if (failing.get()) {
                    status = 500;
                    body = "{\"error\":\"identity service unavailable\"}".getBytes(StandardCharsets.UTF_8);
                } else if (!IDENTITY_HEADER.equals(header)) {
                    status = 401;
                    body = "{\"error\":\"missing or wrong X-IDENTITY-HEADER\"}".getBytes(StandardCharsets.UTF_8);
                } else {
                    long exp = Instant.now().plusSeconds(3600).getEpochSecond();
                    status = 200;
                    body = ("{\"access_token\":\"" + jwt(audience.get(), exp) + "\",\"expires_on\":\"" + exp
                                    + "\",\"resource\":\"" + resource + "\",\"token_type\":\"Bearer\","
                                    + "\"client_id\":\"lifeboat-test-identity\"}")
                            .getBytes(StandardCharsets.UTF_8);
                }
                exchange.getResponseHeaders().add("Content-Type", "application/json");
                exchange.sendResponseHeaders(status, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        });
        identity.start();
        try {
            Path keyFile = PgTestSupport.keyFile(tmp);
            String repo = "azure://entra-" + UUID.randomUUID().toString().substring(0, 8) + "/pg/main";
            Map<String, String> host = Map.of(
                    "LIFEBOAT_AZURE_ENDPOINT",
                    endpoint,
                    "AZURE_STORAGE_ACCOUNT",
                    AzuriteFixture.ACCOUNT,
                    "IDENTITY_ENDPOINT",
                    "http://127.0.0.1:" + identity.getAddress().getPort() + "/msi/token",
                    "IDENTITY_HEADER",
                    IDENTITY_HEADER,
                    "LIFEBOAT_AZURE_AUTH",
                    "entra-id",
                    "JAVA_TOOL_OPTIONS",
                    "-Djavax.net.ssl.trustStore=" + trustStore
                            + " -Djavax.net.ssl.trustStorePassword=changeit -Djavax.net.ssl.trustStoreType=PKCS12");

            Map<String, String> noOptIn = new LinkedHashMap<>(host);
            noOptIn.remove("LIFEBOAT_AZURE_AUTH");
            Run unasked = TestLauncher.run(noOptIn, tmp, "list", "--repo", repo, "--key-file", keyFile.toString());
            assertThat(unasked.exit()).as(unasked.output()).isNotZero();
            assertThat(unasked.output()).contains("needs credentials").contains("LIFEBOAT_AZURE_AUTH=entra-id");
            assertThat(tokenRequests)
                    .as("the host's identity is never used unasked")
                    .isEmpty();

            Run init = TestLauncher.run(
                    host, tmp, "repo-init", "--repo", repo, "--key-file", keyFile.toString(), "--create");
            assertThat(init.exit()).as(init.output()).isZero();
            int afterInit = tokenRequests.size();
            assertThat(afterInit).as("repo-init asked the identity endpoint").isPositive();
            Run list = TestLauncher.run(host, tmp, "list", "--repo", repo, "--key-file", keyFile.toString());
            assertThat(list.exit()).as(list.output()).isZero();
            assertThat(tokenRequests.size())
                    .as("so did list, a process of its own")
                    .isGreaterThan(afterInit);
            assertThat(tokenRequests)
                    .as("each request names storage and carries the identity header")
                    .allSatisfy(r -> {
                        assertThat(r.resource()).startsWith(STORAGE);
                        assertThat(r.header()).isEqualTo(IDENTITY_HEADER);
                    });

            // Azurite judges the token: one for another audience is refused
            audience.set("https://vault.azure.net");
            Run refused = TestLauncher.run(host, tmp, "list", "--repo", repo, "--key-file", keyFile.toString());
            assertThat(refused.exit()).as(refused.output()).isNotZero();
            assertThat(refused.output()).contains("AuthenticationFailed").contains("Invalid token audience");

            // an identity endpoint that fails: no retry loop, and a message that says what was tried
            failing.set(true);
            int before = tokenRequests.size();
            long t0 = System.nanoTime();
            Run noToken = TestLauncher.run(host, tmp, "list", "--repo", repo, "--key-file", keyFile.toString());
            long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
            assertThat(noToken.exit()).as(noToken.output()).isNotZero();
            assertThat(noToken.output()).contains("no Entra ID token for this host (auth entra-id)");
            assertThat(tokenRequests.size() - before)
                    .as("a few tries, not a retry loop of each layer's retries (it was 32 requests and 53 s)")
                    .isBetween(1, 10);
            System.out.println("a failing identity endpoint: list failed after " + seconds + " s");
        } finally {
            identity.stop(0);
            azurite.stop();
        }
    }

    /** An access token as Entra ID shapes it (Azurite's basic OAuth reads the claims; it checks no signature). */
    private static String jwt(String audience, long exp) {
        long now = Instant.now().getEpochSecond();
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String header = b64.encodeToString("{\"alg\":\"RS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        String claims = "{\"aud\":\"" + audience + "\",\"iss\":\"https://sts.windows.net/"
                + "00000000-0000-0000-0000-000000000001/\",\"iat\":" + (now - 60) + ",\"nbf\":" + (now - 60)
                + ",\"exp\":" + exp + ",\"oid\":\"00000000-0000-0000-0000-000000000002\",\"tid\":"
                + "\"00000000-0000-0000-0000-000000000001\"}";
        return header + "." + b64.encodeToString(claims.getBytes(StandardCharsets.UTF_8)) + "."
                + b64.encodeToString("not-checked".getBytes(StandardCharsets.UTF_8));
    }

    private static String param(String query, String name) {
        for (String kv : query.split("&")) {
            int eq = kv.indexOf('=');
            if (eq > 0 && kv.substring(0, eq).equals(name)) {
                return URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    /** A PKCS#12 trust store holding the test CA (password changeit), as JAVA_TOOL_OPTIONS hands it to the launcher. */
    private Path trustStoreOf(Path caCert) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        try (InputStream in = Files.newInputStream(caCert)) {
            ks.setCertificateEntry(
                    "azurite-ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        Path p = tmp.resolve("trust.p12");
        try (OutputStream out = Files.newOutputStream(p)) {
            ks.store(out, "changeit".toCharArray());
        }
        return p;
    }

    private static SSLContext trusting(Path trustStore) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(trustStore)) {
            ks.load(in, "changeit".toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(null, tmf.getTrustManagers(), null);
        return tls;
    }

    private static boolean answers(HttpClient client, String url) {
        try {
            return client.send(
                                    HttpRequest.newBuilder(URI.create(url))
                                            .timeout(Duration.ofSeconds(2))
                                            .build(),
                                    HttpResponse.BodyHandlers.discarding())
                            .statusCode()
                    > 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
