package dev.lifeboat.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.x509.AuthorityKeyIdentifier;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PkiTest {
    static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
    static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

    @TempDir
    Path tmp;

    @Test
    void initCaWritesASelfSignedCaAndAPrivateKeyOnlyTheOwnerCanRead() throws Exception {
        Path dir = tmp.resolve("ca");
        Pki.initCa(dir, "Test CA", Duration.ofDays(30));

        X509Certificate ca = Pem.readCertificate(dir.resolve("ca.crt"), "ca");
        assertThat(ca.getSubjectX500Principal().getName()).isEqualTo("CN=Test CA");
        assertThat(ca.getBasicConstraints()).isEqualTo(0); // a CA that may sign end-entity certificates only
        assertThat(ca.getKeyUsage()[5]).as("keyCertSign").isTrue();
        assertThat(ca.getPublicKey().getAlgorithm()).isEqualTo("EC");
        assertThat(ca.getSigAlgName()).isEqualTo("SHA256withECDSA");
        ca.verify(ca.getPublicKey());
        assertThat(ca.getNotAfter().toInstant())
                .isBetween(
                        Instant.now().plus(Duration.ofDays(29)), Instant.now().plus(Duration.ofDays(31)));
        assertThat(Files.readString(dir.resolve("ca.key"))).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca.key"))))
                .isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)))
                .isEqualTo("rwx------");
        assertThat(Pki.keyMatches(Pem.readPrivateKey(dir.resolve("ca.key"), "key"), ca.getPublicKey()))
                .isTrue();
    }

    @Test
    void initCaNeverReplacesAnExistingCa() throws Exception {
        Path dir = tmp.resolve("ca");
        Pki.initCa(dir, "Test CA", Duration.ofDays(30));
        byte[] before = Files.readAllBytes(dir.resolve("ca.key"));

        assertThatThrownBy(() -> Pki.initCa(dir, "Other CA", Duration.ofDays(30)))
                .isInstanceOf(PkiException.class)
                .hasMessageContaining("a CA already exists in " + dir);
        assertThat(Files.readAllBytes(dir.resolve("ca.key"))).isEqualTo(before);

        Files.delete(dir.resolve("ca.crt")); // a key alone is still a CA we must not replace
        assertThatThrownBy(() -> Pki.initCa(dir, "Other CA", Duration.ofDays(30)))
                .isInstanceOf(PkiException.class);
        assertThat(Files.readAllBytes(dir.resolve("ca.key"))).isEqualTo(before);
    }

    @Test
    void issuedAgentCertificateCarriesRoleNameSansAndUsagesAndChainsToTheCa() throws Exception {
        Path ca = tmp.resolve("ca");
        Pki.initCa(ca, "Test CA", Duration.ofDays(365));
        Path out = tmp.resolve("agent-out");
        IssuedCertificate issued = Pki.issue(
                ca,
                Pki.Role.AGENT,
                "agent-eu-1",
                List.of("agent1.example.internal"),
                List.of("10.0.0.7", "::1"),
                Duration.ofDays(10),
                out);

        assertThat(issued.cert()).isEqualTo(out.resolve("agent-eu-1.crt"));
        assertThat(issued.key()).isEqualTo(out.resolve("agent-eu-1.key"));
        assertThat(Files.readAllBytes(out.resolve("ca.crt"))).isEqualTo(Files.readAllBytes(ca.resolve("ca.crt")));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(issued.key())))
                .isEqualTo("rw-------");

        X509Certificate c = Pem.readCertificate(issued.cert(), "cert");
        X509Certificate caCert = Pem.readCertificate(ca.resolve("ca.crt"), "ca");
        assertThat(c.getSubjectX500Principal().getName()).isEqualTo("CN=agent-eu-1,OU=agent");
        assertThat(c.getBasicConstraints()).isEqualTo(-1);
        assertThat(c.getKeyUsage()[0]).as("digitalSignature").isTrue();
        assertThat(c.getKeyUsage()[5]).as("keyCertSign").isFalse();
        assertThat(c.getExtendedKeyUsage()).containsExactlyInAnyOrder(SERVER_AUTH, CLIENT_AUTH);
        assertThat(c.getSubjectAlternativeNames())
                .containsExactlyInAnyOrder(
                        List.of(2, "agent1.example.internal"), List.of(7, "10.0.0.7"), List.of(7, "0:0:0:0:0:0:0:1"));
        assertThat(c.getSigAlgName()).isEqualTo("SHA256withECDSA");
        assertThat(c.getNotAfter().toInstant())
                .isBetween(Instant.now().plus(Duration.ofDays(9)), Instant.now().plus(Duration.ofDays(11)));
        byte[] aki = AuthorityKeyIdentifier.getInstance(
                        ASN1OctetString.getInstance(c.getExtensionValue(Extension.authorityKeyIdentifier.getId()))
                                .getOctets())
                .getKeyIdentifierOctets();
        byte[] caSki = SubjectKeyIdentifier.getInstance(
                        ASN1OctetString.getInstance(caCert.getExtensionValue(Extension.subjectKeyIdentifier.getId()))
                                .getOctets())
                .getKeyIdentifier();
        assertThat(aki).isEqualTo(caSki);
        assertThat(c.getExtensionValue(Extension.subjectKeyIdentifier.getId())).isNotNull();
        assertThat(issued.fingerprint()).isEqualTo(Pki.fingerprint(c)).matches("([0-9A-F]{2}:){31}[0-9A-F]{2}");
        assertThat(issued.serial()).isEqualTo(c.getSerialNumber());

        // the JDK's own PKIX validation accepts the chain
        PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(caCert, null)));
        params.setRevocationEnabled(false);
        CertPathValidator.getInstance("PKIX")
                .validate(CertificateFactory.getInstance("X.509").generateCertPath(List.of(c)), params);
        assertThat(issued.tlsFiles().check()).isEqualTo(c);
        assertThat(issued.tlsFiles().identity()).isEqualTo(new MutualTls.PeerIdentity("agent-eu-1", Pki.Role.AGENT));
    }

    @Test
    void clientCertificatesAreForClientAuthenticationOnlyAndDefaultToLoopbackNames() throws Exception {
        Path ca = tmp.resolve("ca");
        Pki.initCa(ca, "Test CA", Duration.ofDays(365));
        IssuedCertificate a = Pki.issue(ca, Pki.Role.CLIENT, "ops", List.of(), List.of(), Duration.ofDays(10), ca);
        IssuedCertificate b = Pki.issue(ca, Pki.Role.CONTROLLER, "controller", null, null, Duration.ofDays(10), ca);

        X509Certificate client = Pem.readCertificate(a.cert(), "cert");
        assertThat(client.getExtendedKeyUsage()).containsExactly(CLIENT_AUTH);
        assertThat(client.getSubjectX500Principal().getName()).isEqualTo("CN=ops,OU=client");
        assertThat(client.getSubjectAlternativeNames())
                .containsExactlyInAnyOrder(List.of(2, "localhost"), List.of(7, "127.0.0.1"));
        assertThat(Pem.readCertificate(b.cert(), "cert").getExtendedKeyUsage())
                .containsExactlyInAnyOrder(SERVER_AUTH, CLIENT_AUTH);
        assertThat(a.serial()).isNotEqualTo(b.serial());
        assertThat(a.caCert()).isEqualTo(ca.resolve("ca.crt"));
    }

    @Test
    void aCertificateNeverOutlivesItsCa() {
        Path ca = tmp.resolve("ca");
        Pki.initCa(ca, "Short CA", Duration.ofDays(2));
        IssuedCertificate c = Pki.issue(ca, Pki.Role.AGENT, "a1", List.of(), List.of(), Duration.ofDays(825), ca);
        X509Certificate caCert = Pem.readCertificate(ca.resolve("ca.crt"), "ca");
        assertThat(c.notAfter()).isEqualTo(caCert.getNotAfter().toInstant());
    }

    @Test
    void issueRefusesBadNamesAddressesAndExistingFiles() throws Exception {
        Path ca = tmp.resolve("ca");
        Pki.initCa(ca, "Test CA", Duration.ofDays(365));
        Duration d = Duration.ofDays(1);
        assertThatThrownBy(() -> Pki.issue(ca, Pki.Role.AGENT, "", List.of(), List.of(), d, ca))
                .hasMessageContaining("needs a name");
        assertThatThrownBy(() -> Pki.issue(ca, Pki.Role.AGENT, "../x", List.of(), List.of(), d, ca))
                .hasMessageContaining("path separator");
        assertThatThrownBy(() -> Pki.issue(ca, Pki.Role.AGENT, "..", List.of(), List.of(), d, ca))
                .hasMessageContaining("may not start with '.'");
        assertThatThrownBy(() -> Pki.issue(ca, Pki.Role.AGENT, "ca", List.of(), List.of(), d, ca))
                .hasMessageContaining("ca.crt");
        assertThatThrownBy(() -> Pki.issue(ca, Pki.Role.AGENT, "a1", List.of(), List.of("db1.example"), d, ca))
                .hasMessageContaining("'db1.example' is not an IPv4 or IPv6 address");
        assertThatThrownBy(() -> Pki.issue(ca, Pki.Role.AGENT, "a1", List.of("bad name"), List.of(), d, ca))
                .hasMessageContaining("not a valid DNS name");
        assertThatThrownBy(() -> Pki.issue(ca, Pki.Role.AGENT, "a1", List.of(), List.of(), Duration.ZERO, ca))
                .hasMessageContaining("validity must be positive");
        assertThat(Files.list(ca).map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("ca.crt", "ca.key");

        Pki.issue(ca, Pki.Role.AGENT, "a1", List.of(), List.of(), d, ca);
        byte[] key = Files.readAllBytes(ca.resolve("a1.key"));
        assertThatThrownBy(() -> Pki.issue(ca, Pki.Role.AGENT, "a1", List.of(), List.of(), d, ca))
                .isInstanceOf(PkiException.class)
                .hasMessageContaining("a1.crt already exists");
        assertThat(Files.readAllBytes(ca.resolve("a1.key"))).isEqualTo(key);
    }

    @Test
    void issueRefusesAnOutputDirectoryThatTrustsAnotherCa() {
        Path ca = tmp.resolve("ca");
        Path other = tmp.resolve("other");
        Pki.initCa(ca, "Test CA", Duration.ofDays(365));
        Pki.initCa(other, "Other CA", Duration.ofDays(365));
        assertThatThrownBy(() -> Pki.issue(ca, Pki.Role.AGENT, "a1", List.of(), List.of(), Duration.ofDays(1), other))
                .isInstanceOf(PkiException.class)
                .hasMessageContaining("holds another CA's certificate");
        assertThat(other.resolve("a1.crt")).doesNotExist();
    }

    @Test
    void issueWithoutACaSaysHowToCreateOne() {
        assertThatThrownBy(() -> Pki.issue(
                        tmp.resolve("none"), Pki.Role.AGENT, "a1", List.of(), List.of(), Duration.ofDays(1), tmp))
                .isInstanceOf(PkiException.class)
                .hasMessageContaining("does not exist");
    }

    @Test
    void checkRefusesExpiredNotYetValidMismatchedForeignAndMissingFiles() throws Exception {
        Path ca = tmp.resolve("ca");
        Path other = tmp.resolve("other");
        Pki.initCa(ca, "Test CA", Duration.ofDays(365));
        Pki.initCa(other, "Other CA", Duration.ofDays(365));
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        Pki.issue(ca, Pki.Role.AGENT, "good", List.of(), List.of(), Duration.ofDays(1), ca);
        Pki.issue(
                ca,
                Pki.Role.AGENT,
                "expired",
                List.of(),
                List.of(),
                now.minus(Duration.ofDays(3)),
                now.minus(Duration.ofDays(1)),
                ca);
        Pki.issue(
                ca,
                Pki.Role.AGENT,
                "future",
                List.of(),
                List.of(),
                now.plus(Duration.ofDays(1)),
                now.plus(Duration.ofDays(3)),
                ca);
        Pki.issue(other, Pki.Role.AGENT, "foreign", List.of(), List.of(), Duration.ofDays(1), other);

        TlsFiles.inDir(ca, "good").check();
        assertThatThrownBy(() -> TlsFiles.inDir(ca, "expired").check())
                .isInstanceOf(PkiException.class)
                .hasMessageContaining(
                        "expired.crt (CN=expired, role agent) expired on " + now.minus(Duration.ofDays(1)))
                .hasMessageContaining("lifeboat pki issue");
        assertThatThrownBy(() -> TlsFiles.inDir(ca, "future").check()).hasMessageContaining("is not valid until");
        assertThatThrownBy(() ->
                        new TlsFiles(ca.resolve("ca.crt"), ca.resolve("good.crt"), ca.resolve("expired.key")).check())
                .hasMessageContaining("private key " + ca.resolve("expired.key") + " does not belong to certificate");
        assertThatThrownBy(() -> new TlsFiles(
                                ca.resolve("ca.crt"), other.resolve("foreign.crt"), other.resolve("foreign.key"))
                        .check())
                .hasMessageContaining("was not signed by the CA in " + ca.resolve("ca.crt"));
        assertThatThrownBy(() -> TlsFiles.inDir(ca, "nobody").check())
                .hasMessageContaining("nobody.crt does not exist");
        Files.writeString(tmp.resolve("junk.crt"), "not a certificate");
        assertThatThrownBy(() ->
                        new TlsFiles(tmp.resolve("junk.crt"), ca.resolve("good.crt"), ca.resolve("good.key")).check())
                .hasMessageContaining("holds no certificate");
        // a CA file with both the old and a new CA (a rotation) still accepts certificates of either
        Path both = tmp.resolve("both.crt");
        Files.writeString(both, Files.readString(other.resolve("ca.crt")) + Files.readString(ca.resolve("ca.crt")));
        new TlsFiles(both, ca.resolve("good.crt"), ca.resolve("good.key")).check();
    }
}
