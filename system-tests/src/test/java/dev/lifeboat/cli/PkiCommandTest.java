package dev.lifeboat.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.PgTestSupport.CliResult;
import dev.lifeboat.security.MutualTls;
import dev.lifeboat.security.Pki;
import dev.lifeboat.security.TlsFiles;
import dev.lifeboat.util.Json;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code lifeboat pki init|issue} through the real command line; the files are read back with the JDK's own X.509
 * code. */
class PkiCommandTest {
    @TempDir
    Path tmp;

    static X509Certificate read(Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    static String sha256(X509Certificate c) throws Exception {
        return HexFormat.ofDelimiter(":")
                .withUpperCase()
                .formatHex(MessageDigest.getInstance("SHA-256").digest(c.getEncoded()));
    }

    static String mode(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    @Test
    void initThenIssueWritesAVerifiableChainWithPrivateKeysOnlyTheOwnerCanRead() throws Exception {
        Path ca = tmp.resolve("pki");
        CliResult init = PgTestSupport.cli("pki", "init", "--dir", ca.toString(), "--cn", "Ops CA", "--days", "30");
        assertThat(init.exitCode()).as(init.all()).isZero();
        X509Certificate caCert = read(ca.resolve("ca.crt"));
        assertThat(caCert.getSubjectX500Principal().getName()).isEqualTo("CN=Ops CA");
        assertThat(caCert.getBasicConstraints()).isGreaterThanOrEqualTo(0);
        assertThat(caCert.getNotAfter().toInstant())
                .isBetween(
                        Instant.now().plus(Duration.ofDays(29)), Instant.now().plus(Duration.ofDays(31)));
        assertThat(mode(ca.resolve("ca.key"))).isEqualTo("rw-------");
        assertThat(init.out())
                .contains("created CA \"Ops CA\"")
                .contains(sha256(caCert))
                .contains(ca.resolve("ca.key").toAbsolutePath().toString());

        CliResult issue = PgTestSupport.cli(
                "pki",
                "issue",
                "--dir",
                ca.toString(),
                "--role",
                "agent",
                "agent-eu-west-1",
                "--dns",
                "db1.eu.example.internal",
                "--dns",
                "db1",
                "--ip",
                "10.1.2.3",
                "--days",
                "7");
        assertThat(issue.exitCode()).as(issue.all()).isZero();
        X509Certificate agent = read(ca.resolve("agent-eu-west-1.crt"));
        assertThat(mode(ca.resolve("agent-eu-west-1.key"))).isEqualTo("rw-------");
        assertThat(agent.getSubjectX500Principal().getName()).isEqualTo("CN=agent-eu-west-1,OU=agent");
        assertThat(agent.getSubjectAlternativeNames())
                .containsExactlyInAnyOrder(
                        List.of(2, "db1.eu.example.internal"), List.of(2, "db1"), List.of(7, "10.1.2.3"));
        assertThat(agent.getBasicConstraints()).isEqualTo(-1);
        assertThat(agent.getExtendedKeyUsage()).containsExactlyInAnyOrder("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        assertThat(agent.getNotAfter().toInstant())
                .isBetween(Instant.now().plus(Duration.ofDays(6)), Instant.now().plus(Duration.ofDays(8)));
        assertThat(issue.out())
                .contains("issued agent certificate \"agent-eu-west-1\"")
                .contains(sha256(agent))
                .contains("DNS:db1.eu.example.internal, DNS:db1, IP:10.1.2.3");

        PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(caCert, null)));
        params.setRevocationEnabled(false);
        CertPathValidator.getInstance("PKIX")
                .validate(CertificateFactory.getInstance("X.509").generateCertPath(List.of(agent)), params);
        // the key on disk belongs to the certificate, and the files are usable for TLS as they are
        TlsFiles files = TlsFiles.inDir(ca, "agent-eu-west-1");
        assertThat(files.check()).isEqualTo(agent);
        assertThat(files.identity()).isEqualTo(new MutualTls.PeerIdentity("agent-eu-west-1", Pki.Role.AGENT));
    }

    @Test
    void aClientCertificateGoesToItsOwnDirectoryWithTheCaCertificateAndDefaultLoopbackNames() throws Exception {
        Path ca = tmp.resolve("pki");
        Path out = tmp.resolve("ops-laptop");
        assertThat(PgTestSupport.cli("pki", "init", "--dir", ca.toString()).exitCode())
                .isZero();
        CliResult r = PgTestSupport.cli(
                "pki", "issue", "--dir", ca.toString(), "--role", "CLIENT", "ops", "--out", out.toString(), "--json");
        assertThat(r.exitCode()).as(r.all()).isZero();

        JsonNode j = Json.MAPPER.readTree(r.out());
        X509Certificate client = read(out.resolve("ops.crt"));
        assertThat(j.get("role").asText()).isEqualTo("client");
        assertThat(j.get("sha256Fingerprint").asText()).isEqualTo(sha256(client));
        assertThat(j.get("serial").asText()).isEqualTo(client.getSerialNumber().toString(16));
        assertThat(j.get("privateKey").asText())
                .isEqualTo(out.resolve("ops.key").toAbsolutePath().toString());
        assertThat(client.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.2");
        assertThat(client.getSubjectAlternativeNames())
                .containsExactlyInAnyOrder(List.of(2, "localhost"), List.of(7, "127.0.0.1"));
        assertThat(Files.readAllBytes(out.resolve("ca.crt"))).isEqualTo(Files.readAllBytes(ca.resolve("ca.crt")));
        assertThat(mode(out.resolve("ops.key"))).isEqualTo("rw-------");
        assertThat(read(ca.resolve("ca.crt")).getSubjectX500Principal().getName())
                .isEqualTo("CN=Lifeboat CA");
        assertThat(Files.exists(ca.resolve("ops.crt"))).isFalse();
    }

    @Test
    void mistakesEndWithOneClearLineAndChangeNothing() throws Exception {
        Path ca = tmp.resolve("pki");
        assertThat(PgTestSupport.cli("pki", "init", "--dir", ca.toString()).exitCode())
                .isZero();
        byte[] key = Files.readAllBytes(ca.resolve("ca.key"));

        CliResult again = PgTestSupport.cli("pki", "init", "--dir", ca.toString());
        assertThat(again.exitCode()).isEqualTo(1);
        assertThat(again.err()).startsWith("lifeboat pki init: error: a CA already exists in " + ca);
        assertThat(Files.readAllBytes(ca.resolve("ca.key"))).isEqualTo(key);

        CliResult badRole = PgTestSupport.cli("pki", "issue", "--dir", ca.toString(), "--role", "admin", "x");
        assertThat(badRole.exitCode()).isEqualTo(2);
        assertThat(badRole.err()).contains("--role");

        CliResult badIp =
                PgTestSupport.cli("pki", "issue", "--dir", ca.toString(), "--role", "agent", "a1", "--ip", "db1");
        assertThat(badIp.exitCode()).isEqualTo(1);
        assertThat(badIp.err()).contains("'db1' is not an IPv4 or IPv6 address");

        CliResult noCa =
                PgTestSupport.cli("pki", "issue", "--dir", tmp.resolve("nope").toString(), "--role", "agent", "a1");
        assertThat(noCa.exitCode()).isEqualTo(1);
        assertThat(noCa.err()).contains("does not exist");

        CliResult noDir = PgTestSupport.cli("pki", "issue", "--role", "agent", "a1");
        assertThat(noDir.exitCode()).isEqualTo(1);
        assertThat(noDir.err()).contains("needs --dir CA_DIR");

        assertThat(PgTestSupport.cli("pki", "issue", "--dir", ca.toString(), "--role", "agent", "a1")
                        .exitCode())
                .isZero();
        CliResult twice = PgTestSupport.cli("pki", "issue", "--dir", ca.toString(), "--role", "agent", "a1");
        assertThat(twice.exitCode()).isEqualTo(1);
        assertThat(twice.err()).contains("a1.crt already exists");

        try (var files = Files.list(ca)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("ca.crt", "ca.key", "a1.crt", "a1.key");
        }
    }
}
