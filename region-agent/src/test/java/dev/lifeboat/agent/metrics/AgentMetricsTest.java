package dev.lifeboat.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.proto.v1.MetricSample;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStores;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The metrics endpoint over real HTTP and HTTPS (mutual TLS) on loopback, and the snapshot pushed to the controller.
 * */
class AgentMetricsTest {
    private static final InetSocketAddress LOOPBACK = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);

    @Test
    void aStoreOperationShowsUpInTheScrape(@TempDir Path dir) throws Exception {
        try (AgentMetrics m = new AgentMetrics(LOOPBACK, null);
                BlobStore store = BlobStores.open(dir.toUri().toString())) {
            store.put("config", new byte[1234]);
            assertThatThrownBy(() -> store.get("missing")).isInstanceOf(BlobNotFoundException.class);
            HttpClient http = HttpClient.newHttpClient();
            URI metrics = URI.create("http://127.0.0.1:" + m.port() + "/metrics");
            String body = http.send(HttpRequest.newBuilder(metrics).build(), HttpResponse.BodyHandlers.ofString())
                    .body();
            List<PrometheusText.Sample> samples = PrometheusText.parse(body);
            assertThat(PrometheusText.find(
                            samples,
                            "lifeboat_store_operations_seconds_count",
                            Map.of("backend", "file", "operation", "put", "outcome", "ok")))
                    .hasValueSatisfying(s -> assertThat(s.value()).isGreaterThanOrEqualTo(1.0));
            assertThat(PrometheusText.find(
                            samples,
                            "lifeboat_store_operations_seconds_count",
                            Map.of("backend", "file", "operation", "get", "outcome", "not_found")))
                    .hasValueSatisfying(s -> assertThat(s.value()).isGreaterThanOrEqualTo(1.0));
            assertThat(PrometheusText.find(
                            samples, "lifeboat_store_bytes_total", Map.of("backend", "file", "operation", "put")))
                    .hasValueSatisfying(s -> assertThat(s.value()).isGreaterThanOrEqualTo(1234.0));
        }
    }

    @Test
    void servesPrometheusTextWithJvmAndLifeboatMetersOverHttp() throws Exception {
        try (AgentMetrics m = new AgentMetrics(LOOPBACK, null)) {
            AtomicLong lag = new AtomicLong(42);
            Gauge.builder("lifeboat.replication.lag.bytes", lag, AtomicLong::get)
                    .tags("region", "eu \"west\"")
                    .register(m.registry());
            Counter.builder("lifeboat.jobs.failed")
                    .tags("type", "backup")
                    .register(m.registry())
                    .increment(3);
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + m.port();

            HttpResponse<String> r = http.send(
                    HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain; version=0.0.4");
            List<PrometheusText.Sample> samples = PrometheusText.parse(r.body());
            assertThat(PrometheusText.find(samples, "lifeboat_replication_lag_bytes", Map.of("region", "eu \"west\"")))
                    .hasValueSatisfying(s -> assertThat(s.value()).isEqualTo(42.0));
            assertThat(PrometheusText.find(samples, "lifeboat_jobs_failed_total", Map.of("type", "backup")))
                    .hasValueSatisfying(s -> assertThat(s.value()).isEqualTo(3.0));
            // the JVM and process meters are bound
            assertThat(samples)
                    .extracting(PrometheusText.Sample::name)
                    .contains(
                            "jvm_memory_used_bytes",
                            "jvm_threads_live_threads",
                            "process_uptime_seconds",
                            "system_cpu_count");
            assertThat(samples.stream()
                            .filter(s -> s.name().equals("jvm_memory_used_bytes"))
                            .mapToDouble(PrometheusText.Sample::value)
                            .sum())
                    .isPositive();

            lag.set(7); // served live, not cached
            String again = http.send(
                            HttpRequest.newBuilder(URI.create(base + "/metrics"))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString())
                    .body();
            assertThat(PrometheusText.find(
                            PrometheusText.parse(again),
                            "lifeboat_replication_lag_bytes",
                            Map.of("region", "eu \"west\"")))
                    .hasValueSatisfying(s -> assertThat(s.value()).isEqualTo(7.0));

            HttpResponse<String> health = http.send(
                    HttpRequest.newBuilder(URI.create(base + "/healthz")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);
            assertThat(health.body()).isEqualTo("ok\n");
            assertThat(http.send(
                                    HttpRequest.newBuilder(URI.create(base + "/other"))
                                            .build(),
                                    HttpResponse.BodyHandlers.ofString())
                            .statusCode())
                    .isEqualTo(404);
            assertThat(http.send(
                                    HttpRequest.newBuilder(URI.create(base + "/metrics"))
                                            .POST(HttpRequest.BodyPublishers.noBody())
                                            .build(),
                                    HttpResponse.BodyHandlers.ofString())
                            .statusCode())
                    .isEqualTo(405);
        }
    }

    @Test
    void snapshotHoldsTheLifeboatSeriesExactlyAsServed() throws Exception {
        try (AgentMetrics m = new AgentMetrics(null, null)) {
            assertThat(m.port()).isEqualTo(-1);
            Gauge.builder("lifeboat.rpo.seconds", () -> 1.25)
                    .tags("database", "orders", "region", "home")
                    .register(m.registry());
            Counter.builder("lifeboat.rpo.probe.errors")
                    .tags("database", "orders", "region", "home")
                    .register(m.registry())
                    .increment(2);
            Timer t = Timer.builder("lifeboat.job.duration")
                    .tags("type", "backup")
                    .register(m.registry());
            t.record(Duration.ofMillis(1500));
            t.record(Duration.ofMillis(500));
            DistributionSummary.builder("lifeboat.job.bytes")
                    .serviceLevelObjectives(1000, 1_000_000)
                    .register(m.registry())
                    .record(4096);
            Instant before = Instant.now().minusSeconds(1);

            List<MetricSample> snap = m.snapshot();
            List<PrometheusText.Sample> served = PrometheusText.parse(m.scrape());

            assertThat(snap).allSatisfy(s -> {
                assertThat(s.getName()).startsWith("lifeboat_");
                assertThat(Instant.ofEpochSecond(
                                s.getAt().getSeconds(), s.getAt().getNanos()))
                        .isAfter(before);
                // every pushed sample is a line of /metrics with the same labels and value
                assertThat(PrometheusText.find(served, s.getName(), s.getLabelsMap()))
                        .as(s.getName() + s.getLabelsMap())
                        .hasValueSatisfying(p -> assertThat(p.value()).isEqualTo(s.getValue()));
            });
            // and every lifeboat line of /metrics is pushed (JVM lines are not)
            assertThat(snap).hasSize((int) served.stream()
                    .filter(s -> s.name().startsWith("lifeboat_"))
                    .count());
            assertThat(served.stream().filter(s -> !s.name().startsWith("lifeboat_")))
                    .isNotEmpty();

            assertThat(value(snap, "lifeboat_rpo_seconds", Map.of("database", "orders", "region", "home")))
                    .isEqualTo(1.25);
            assertThat(value(snap, "lifeboat_rpo_probe_errors_total", Map.of("database", "orders", "region", "home")))
                    .isEqualTo(2.0);
            assertThat(value(snap, "lifeboat_job_duration_seconds_count", Map.of("type", "backup")))
                    .isEqualTo(2.0);
            assertThat(value(snap, "lifeboat_job_duration_seconds_sum", Map.of("type", "backup")))
                    .isEqualTo(2.0);
            assertThat(value(snap, "lifeboat_job_duration_seconds_max", Map.of("type", "backup")))
                    .isEqualTo(1.5);
            assertThat(value(snap, "lifeboat_job_bytes_bucket", Map.of("le", "1000.0")))
                    .isEqualTo(0.0);
            assertThat(value(snap, "lifeboat_job_bytes_bucket", Map.of("le", "1000000.0")))
                    .isEqualTo(1.0);
        }
    }

    private static double value(List<MetricSample> snap, String name, Map<String, String> labels) {
        return snap.stream()
                .filter(s -> s.getName().equals(name) && s.getLabelsMap().equals(labels))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no sample " + name + labels + " in "
                        + snap.stream().map(s -> s.getName() + s.getLabelsMap()).toList()))
                .getValue();
    }

    @Test
    void httpsRequiresAClientCertificateFromTheTrustedAuthority() throws Exception {
        Pki ca = Pki.authority("lifeboat test CA");
        Pki other = Pki.authority("some other CA");
        SSLContext server = ca.context(ca.issue("agent", true));
        try (AgentMetrics m = new AgentMetrics(LOOPBACK, server)) {
            URI uri = URI.create("https://127.0.0.1:" + m.port() + "/metrics");
            Gauge.builder("lifeboat.rpo.seconds", () -> 3)
                    .tags("database", "orders", "region", "home")
                    .register(m.registry());

            HttpResponse<String> ok = client(ca.context(ca.issue("prometheus", false)))
                    .send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(PrometheusText.find(
                            PrometheusText.parse(ok.body()),
                            "lifeboat_rpo_seconds",
                            Map.of("database", "orders", "region", "home")))
                    .hasValueSatisfying(s -> assertThat(s.value()).isEqualTo(3.0));

            // no client certificate, or one from another authority: refused during the handshake
            assertThatThrownBy(() -> client(ca.context(null))
                            .send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()))
                    .isInstanceOf(IOException.class);
            SSLContext foreign = Pki.context(other.issue("intruder", false), ca.cert);
            assertThatThrownBy(() -> client(foreign)
                            .send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()))
                    .isInstanceOf(IOException.class);
        }
    }

    private static HttpClient client(SSLContext ssl) {
        return HttpClient.newBuilder()
                .sslContext(ssl)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    /** A throwaway certificate authority for the HTTPS test. */
    private record Pki(KeyPair keys, X509Certificate cert) {
        record Issued(KeyPair keys, X509Certificate cert, X509Certificate issuer) {}

        static KeyPair ecKeys() throws Exception {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(256);
            return g.generateKeyPair();
        }

        static Pki authority(String name) throws Exception {
            KeyPair kp = ecKeys();
            X500Name dn = new X500Name("CN=" + name);
            var b = new JcaX509v3CertificateBuilder(
                    dn,
                    BigInteger.valueOf(System.nanoTime()),
                    Date.from(Instant.now().minusSeconds(60)),
                    Date.from(Instant.now().plusSeconds(3600)),
                    dn,
                    kp.getPublic());
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            return new Pki(
                    kp,
                    new JcaX509CertificateConverter()
                            .getCertificate(
                                    b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()))));
        }

        Issued issue(String name, boolean server) throws Exception {
            KeyPair kp = ecKeys();
            var b = new JcaX509v3CertificateBuilder(
                    new X500Name(cert.getSubjectX500Principal().getName()),
                    BigInteger.valueOf(System.nanoTime()),
                    Date.from(Instant.now().minusSeconds(60)),
                    Date.from(Instant.now().plusSeconds(3600)),
                    new X500Name("CN=" + name),
                    kp.getPublic());
            if (server) {
                b.addExtension(
                        Extension.subjectAlternativeName,
                        false,
                        new GeneralNames(new GeneralName(GeneralName.iPAddress, "127.0.0.1")));
            }
            return new Issued(
                    kp,
                    new JcaX509CertificateConverter()
                            .getCertificate(
                                    b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate()))),
                    cert);
        }

        SSLContext context(Issued own) throws Exception {
            return context(own, cert);
        }

        static SSLContext context(Issued own, X509Certificate trusted) throws Exception {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            trust.setCertificateEntry("ca", trusted);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            KeyManagerFactory kmf = null;
            if (own != null) {
                KeyStore ks = KeyStore.getInstance("PKCS12");
                ks.load(null, null);
                ks.setKeyEntry("me", own.keys().getPrivate(), "x".toCharArray(), new X509Certificate[] {
                    own.cert(), own.issuer()
                });
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(ks, "x".toCharArray());
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx;
        }
    }
}
