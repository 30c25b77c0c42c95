package dev.lifeboat.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsExchange;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTTPS side (REST API, /metrics): a real JDK HttpsServer and HttpClient on loopback with the SSLContexts. */
class MutualTlsHttpsTest {
    @TempDir
    static Path tmp;

    static Path ca;
    static Path otherCa;

    final AtomicInteger handled = new AtomicInteger();
    final List<HttpsServer> servers = new ArrayList<>();

    @BeforeAll
    static void pki() {
        ca = tmp.resolve("ca");
        otherCa = tmp.resolve("other-ca");
        Pki.initCa(ca, "Test CA", Duration.ofDays(30));
        Pki.initCa(otherCa, "Other CA", Duration.ofDays(30));
        Pki.issue(ca, Pki.Role.CONTROLLER, "controller", List.of(), List.of(), Duration.ofDays(1), ca);
        Pki.issue(ca, Pki.Role.CLIENT, "ops", List.of(), List.of(), Duration.ofDays(1), ca);
        Pki.issue(otherCa, Pki.Role.CLIENT, "rogue", List.of(), List.of(), Duration.ofDays(1), otherCa);
        Pki.issue(otherCa, Pki.Role.CONTROLLER, "rogue-controller", List.of(), List.of(), Duration.ofDays(1), otherCa);
    }

    @AfterEach
    void stop() {
        servers.forEach(s -> s.stop(0));
    }

    /** Answers with the client's certificate identity, or "anonymous" when it presented none. */
    int server(SSLContext ctx) throws IOException {
        HttpsServer s = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        s.setHttpsConfigurator(new HttpsConfigurator(ctx));
        s.createContext("/", ex -> {
            handled.incrementAndGet();
            String who;
            try {
                MutualTls.PeerIdentity p = MutualTls.peerOf(((HttpsExchange) ex).getSSLSession());
                who = p.commonName() + "/" + p.role();
            } catch (PkiException e) {
                who = "anonymous";
            }
            byte[] body = who.getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream o = ex.getResponseBody()) {
                o.write(body);
            }
        });
        s.start();
        servers.add(s);
        return s.getAddress().getPort();
    }

    static String get(int port, SSLContext client) throws IOException, InterruptedException {
        try (HttpClient c = HttpClient.newBuilder()
                .sslContext(client)
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build()) {
            HttpResponse<String> r = c.send(
                    HttpRequest.newBuilder(URI.create("https://localhost:" + port + "/"))
                            .timeout(Duration.ofSeconds(10))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            return r.body();
        }
    }

    /** A client that trusts our CA but has no certificate of its own. */
    static SSLContext trustOnly(Path caCert) throws Exception {
        return plainContext(caCert, null, null);
    }

    /**
     * A client context built without {@link MutualTls}: trusts {@code caCert} and, if given, presents {@code cert} even
     * when the server lists other acceptable issuers (as a hostile client would), so the server's own check is tested.
     */
    static SSLContext plainContext(Path caCert, Path cert, Path key) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("ca", Pem.readCertificate(caCert, "ca"));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(trust);
        KeyManager[] km = cert == null
                ? null
                : new KeyManager[] {new Presenting(Pem.readPrivateKey(key, "key"), Pem.readCertificate(cert, "cert"))};
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(km, tmf.getTrustManagers(), null);
        return ctx;
    }

    @Test
    void withClientCertificatesRequiredOnlyClientsOfTheSameCaGetAnAnswer() throws Exception {
        int port = server(MutualTls.serverSslContext(TlsFiles.inDir(ca, "controller"), true));
        assertThat(get(port, MutualTls.clientSslContext(TlsFiles.inDir(ca, "ops"))))
                .isEqualTo("ops/CLIENT");
        assertThat(handled).hasValue(1);

        assertThatThrownBy(() -> get(port, trustOnly(ca.resolve("ca.crt")))).isInstanceOf(IOException.class);
        // trusts our CA, presents the other CA's certificate (MutualTls.clientSslContext would not even build it)
        SSLContext rogue =
                plainContext(ca.resolve("ca.crt"), otherCa.resolve("rogue.crt"), otherCa.resolve("rogue.key"));
        assertThatThrownBy(() -> get(port, rogue)).isInstanceOf(IOException.class);
        assertThat(handled).hasValue(1);
    }

    @Test
    void withoutTheRequirementAClientMayComeWithoutACertificateButNotWithAForeignOne() throws Exception {
        // e.g. a REST API that authenticates with bearer tokens over server-authenticated TLS
        int port = server(MutualTls.serverSslContext(TlsFiles.inDir(ca, "controller"), false));
        assertThat(get(port, trustOnly(ca.resolve("ca.crt")))).isEqualTo("anonymous");
        assertThat(get(port, MutualTls.clientSslContext(TlsFiles.inDir(ca, "ops"))))
                .isEqualTo("ops/CLIENT");
        assertThat(handled).hasValue(2);
        SSLContext rogue =
                plainContext(ca.resolve("ca.crt"), otherCa.resolve("rogue.crt"), otherCa.resolve("rogue.key"));
        assertThatThrownBy(() -> get(port, rogue)).isInstanceOf(IOException.class);
        assertThat(handled).hasValue(2);
    }

    @Test
    void theClientRefusesAServerFromAnotherCa() throws Exception {
        int port = server(MutualTls.serverSslContext(TlsFiles.inDir(otherCa, "rogue-controller"), false));
        assertThatThrownBy(() -> get(port, MutualTls.clientSslContext(TlsFiles.inDir(ca, "ops"))))
                .isInstanceOf(IOException.class);
        assertThat(handled).hasValue(0);
    }

    @Test
    void theServerContextOffersOnlyTls13And12AndAsksForClientCertificatesEverywhere() throws Exception {
        SSLContext ctx = MutualTls.serverSslContext(TlsFiles.inDir(ca, "controller"), true);
        assertThat(ctx.getDefaultSSLParameters().getProtocols()).containsExactly("TLSv1.3", "TLSv1.2");
        assertThat(ctx.getDefaultSSLParameters().getNeedClientAuth()).isTrue();
        assertThat(ctx.createSSLEngine().getNeedClientAuth()).isTrue();
        try (var s = (SSLServerSocket)
                ctx.getServerSocketFactory().createServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            assertThat(s.getNeedClientAuth()).isTrue();
            assertThat(s.getEnabledProtocols()).containsExactly("TLSv1.3", "TLSv1.2");
        }
        SSLContext optional = MutualTls.serverSslContext(TlsFiles.inDir(ca, "controller"), false);
        assertThat(optional.createSSLEngine().getNeedClientAuth()).isFalse();
        assertThat(optional.createSSLEngine().getWantClientAuth()).isTrue();
    }

    /** Always presents its one certificate, whatever issuers the server asks for. */
    static final class Presenting extends X509ExtendedKeyManager {
        private final PrivateKey key;
        private final X509Certificate cert;

        Presenting(PrivateKey key, X509Certificate cert) {
            this.key = key;
            this.cert = cert;
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return new String[] {"k"};
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return "k";
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            return "k";
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return null;
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return null;
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return new X509Certificate[] {cert};
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return key;
        }
    }
}
