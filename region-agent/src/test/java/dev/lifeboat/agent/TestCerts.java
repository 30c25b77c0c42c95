package dev.lifeboat.agent;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;

/**
 * Certificates for TLS tests: a CA and leaf certificates it signs (EC P-256), written as PEM (PKCS#8 keys). The
 * product's own PKI ({@code lifeboat pki}) lives in the security module; this keeps the agent's tests self-contained.
 */
final class TestCerts {
    record Ca(X509Certificate cert, KeyPair keys, Path certFile) {
    }

    record Leaf(Path cert, Path key) {
    }

    private TestCerts() {
    }

    static KeyPair keys() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    static Ca ca(Path dir, String cn) throws Exception {
        KeyPair k = keys();
        X500Name name = new X500Name("CN=" + cn);
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, BigInteger.valueOf(System.nanoTime()),
                Date.from(Instant.now().minus(Duration.ofHours(1))), Date.from(Instant.now().plus(Duration.ofDays(2))), name, k.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
        X509Certificate cert = sign(b, k);
        Files.createDirectories(dir);
        Path f = dir.resolve(cn.replace(' ', '-') + ".crt");
        writePem(f, "CERTIFICATE", cert.getEncoded());
        return new Ca(cert, k, f);
    }

    /** A certificate for {@code cn}, valid for 127.0.0.1 and localhost, signed by {@code ca}. */
    static Leaf leaf(Path dir, Ca ca, String cn) throws Exception {
        KeyPair k = keys();
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(ca.cert(), BigInteger.valueOf(System.nanoTime()),
                Date.from(Instant.now().minus(Duration.ofHours(1))), Date.from(Instant.now().plus(Duration.ofDays(1))),
                new X500Name("CN=" + cn), k.getPublic());
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[]{
                new GeneralName(GeneralName.iPAddress, "127.0.0.1"), new GeneralName(GeneralName.dNSName, "localhost")}));
        X509Certificate cert = sign(b, ca.keys());
        Path c = dir.resolve(cn + ".crt");
        Path key = dir.resolve(cn + ".key");
        writePem(c, "CERTIFICATE", cert.getEncoded());
        writePem(key, "PRIVATE KEY", k.getPrivate().getEncoded());
        return new Leaf(c, key);
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, KeyPair signer) throws Exception {
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA")
                .build(signer.getPrivate())));
    }

    private static void writePem(Path f, String type, byte[] der) throws Exception {
        Files.writeString(f, "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
                + "\n-----END " + type + "-----\n");
    }
}
