package dev.lifeboat.security;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1String;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A small certificate authority for mutual TLS between controller, agents and clients: {@link #initCa} creates the CA
 * ({@code ca.crt}, {@code ca.key}), {@link #issue} signs a certificate for one controller, agent or client. The role is
 * the subject's OU and the name its CN, so a peer's certificate is its identity. EC P-256 keys, SHA256withECDSA.
 */
public final class Pki {
    public static final String CA_CERT = "ca.crt";
    public static final String CA_KEY = "ca.key";

    /** Backdated start of validity, so a peer whose clock is a little behind does not see a brand-new certificate as
     * not yet valid. */
    static final Duration CLOCK_SKEW = Duration.ofMinutes(5);

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Pattern DNS_NAME = Pattern.compile("(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
            + "(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\\.?");

    private Pki() {}

    /** What a certificate is for; written into the subject's OU in lower case. */
    public enum Role {
        /** Serves agents and the API, and dials agents directly: server and client authentication. */
        CONTROLLER,
        /** Dials the controller and serves its own job API: server and client authentication. */
        AGENT,
        /** A CLI or pipeline step: client authentication only. */
        CLIENT;

        public String ou() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The role in a certificate's OU, or an error naming the roles there are. */
        public static Role fromOu(String ou) {
            for (Role r : values()) {
                if (r.ou().equalsIgnoreCase(ou)) {
                    return r;
                }
            }
            throw new PkiException("'" + ou + "' is not a Lifeboat certificate role (controller, agent or client)");
        }
    }

    /**
     * Creates a CA in {@code dir} (created 0700 if missing): {@code ca.crt} and {@code ca.key} (PKCS#8, mode 0600).
     * Never replaces an existing CA: every certificate it issued would stop being trusted.
     */
    public static void initCa(Path dir, String commonName, Duration validity) {
        requireText(commonName, "the CA's common name");
        requirePositive(validity);
        Path certFile = dir.resolve(CA_CERT);
        Path keyFile = dir.resolve(CA_KEY);
        if (Files.exists(certFile) || Files.exists(keyFile)) {
            throw new PkiException(
                    "a CA already exists in " + dir + " (" + (Files.exists(certFile) ? certFile : keyFile)
                            + "); replacing it would invalidate every certificate it issued. Use another --dir for a "
                            + "new CA, "
                            + "or delete ca.crt and ca.key yourself if that is really meant");
        }
        createPrivateDir(dir);
        KeyPair keys = newKeyPair();
        Instant now = Instant.now();
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.CN, commonName)
                .build();
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
                            subject,
                            newSerial(),
                            Date.from(now.minus(CLOCK_SKEW)),
                            Date.from(now.plus(validity)),
                            subject,
                            keys.getPublic())
                    // path length 0: this CA signs end-entity certificates only, never another CA
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(
                            Extension.keyUsage,
                            true,
                            new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.digitalSignature))
                    .addExtension(
                            Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()))
                    .addExtension(
                            Extension.authorityKeyIdentifier,
                            false,
                            ext.createAuthorityKeyIdentifier(keys.getPublic()));
            X509Certificate cert = sign(b, keys.getPrivate());
            // key first: if it cannot be written there is no certificate without a key
            Pem.writeNewSecret(keyFile, Pem.encodePrivateKey(keys.getPrivate()));
            try {
                Pem.writeNew(certFile, Pem.encode(cert));
            } catch (RuntimeException e) {
                Pem.deleteQuietly(keyFile);
                throw e;
            }
        } catch (GeneralSecurityException | CertIOException e) {
            throw new PkiException("cannot create the CA certificate: " + e.getMessage(), e);
        }
    }

    /**
     * Issues a certificate for {@code name} (its CN; {@code role} is its OU), signed by the CA in {@code caDir}, and
     * writes {@code outDir/<name>.crt} and {@code outDir/<name>.key} (0600), plus {@code outDir/ca.crt} if absent.
     * Subject alternative names are {@code dnsNames} and {@code ipAddresses}; with neither, {@code localhost} and
     * {@code 127.0.0.1}. Validity ends no later than the CA's own.
     */
    public static IssuedCertificate issue(
            Path caDir,
            Role role,
            String name,
            List<String> dnsNames,
            List<String> ipAddresses,
            Duration validity,
            Path outDir) {
        requirePositive(validity);
        Instant now = Instant.now();
        return issue(caDir, role, name, dnsNames, ipAddresses, now.minus(CLOCK_SKEW), now.plus(validity), outDir);
    }

    /** As {@link #issue(Path, Role, String, List, List, Duration, Path)} with an explicit validity window (tests use
     * past ones). */
    static IssuedCertificate issue(
            Path caDir,
            Role role,
            String name,
            List<String> dnsNames,
            List<String> ipAddresses,
            Instant notBefore,
            Instant notAfter,
            Path outDir) {
        if (role == null) {
            throw new PkiException("a certificate needs a role: controller, agent or client");
        }
        validateName(name);
        List<String> dns = dnsNames == null
                ? List.of()
                : dnsNames.stream().map(String::strip).distinct().toList();
        List<String> ips = ipAddresses == null
                ? List.of()
                : ipAddresses.stream().map(String::strip).distinct().toList();
        dns.forEach(Pki::validateDnsName);
        List<String> ipsCanonical = ips.stream()
                .map(Pki::parseIp)
                .map(InetAddress::getHostAddress)
                .distinct()
                .toList();
        if (dns.isEmpty() && ips.isEmpty()) {
            dns = List.of("localhost");
            ipsCanonical = List.of("127.0.0.1");
        }

        Path caCertFile = caDir.resolve(CA_CERT);
        X509Certificate caCert = Pem.readCertificate(caCertFile, "CA certificate");
        PrivateKey caKey = Pem.readPrivateKey(caDir.resolve(CA_KEY), "CA private key");
        if (!keyMatches(caKey, caCert.getPublicKey())) {
            throw new PkiException("the CA key " + caDir.resolve(CA_KEY) + " does not belong to " + caCertFile
                    + ": the CA directory was mixed up; restore both files from the same backup");
        }
        Instant caNotAfter = caCert.getNotAfter().toInstant();
        if (caNotAfter.isBefore(Instant.now())) {
            throw new PkiException("the CA in " + caDir + " expired on " + caNotAfter
                    + ": create a new CA with `lifeboat pki init` " + "and issue every certificate again");
        }
        if (notAfter.isAfter(caNotAfter)) {
            notAfter = caNotAfter; // a certificate cannot outlive the CA that vouches for it
        }

        Path certFile = outDir.resolve(name + ".crt");
        Path keyFile = outDir.resolve(name + ".key");
        for (Path p : List.of(certFile, keyFile)) {
            if (Files.exists(p)) {
                throw new PkiException(p + " already exists; not overwriting it. To issue a new certificate for '"
                        + name + "', delete " + certFile.getFileName() + " and " + keyFile.getFileName()
                        + " first (or use another --out)");
            }
        }
        Path outCa = outDir.resolve(CA_CERT);
        createPrivateDir(outDir);
        if (Files.exists(outCa)
                && !outCa.toAbsolutePath()
                        .normalize()
                        .equals(caCertFile.toAbsolutePath().normalize())) {
            List<X509Certificate> present = Pem.readCertificates(outCa, "CA certificate");
            if (!present.contains(caCert)) {
                throw new PkiException(
                        outCa + " holds another CA's certificate; the new certificate would not be trusted with it. "
                                + "Use another --out directory, or replace that file with " + caCertFile);
            }
        }

        KeyPair keys = newKeyPair();
        X500Name subject = subject(role, name);
        List<GeneralName> sans = new ArrayList<>();
        dns.forEach(d -> sans.add(new GeneralName(GeneralName.dNSName, d)));
        ipsCanonical.forEach(ip -> sans.add(new GeneralName(GeneralName.iPAddress, ip)));
        KeyPurposeId[] purposes = role == Role.CLIENT
                ? new KeyPurposeId[] {KeyPurposeId.id_kp_clientAuth}
                : new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth};
        BigInteger serial = newSerial();
        X509Certificate cert;
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
                            caCert, serial, Date.from(notBefore), Date.from(notAfter), subject, keys.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(
                            Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purposes))
                    .addExtension(
                            Extension.subjectAlternativeName, false, new GeneralNames(sans.toArray(GeneralName[]::new)))
                    .addExtension(
                            Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(keys.getPublic()))
                    .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert));
            cert = sign(b, caKey);
        } catch (GeneralSecurityException | CertIOException e) {
            throw new PkiException("cannot create the certificate for '" + name + "': " + e.getMessage(), e);
        }

        Pem.writeNewSecret(keyFile, Pem.encodePrivateKey(keys.getPrivate()));
        try {
            Pem.writeNew(certFile, Pem.encode(cert));
        } catch (RuntimeException e) {
            Pem.deleteQuietly(keyFile);
            throw e;
        }
        if (!Files.exists(outCa)) {
            try {
                Files.copy(caCertFile, outCa);
            } catch (IOException e) {
                throw Pem.cannotWrite(outCa, e);
            }
        }
        return new IssuedCertificate(
                certFile,
                keyFile,
                outCa,
                role,
                name,
                dns,
                ipsCanonical,
                serial,
                cert.getNotBefore().toInstant(),
                cert.getNotAfter().toInstant(),
                fingerprint(cert));
    }

    /** The CA certificate in {@code caDir} ({@code ca.crt}; the first one if the file holds several). */
    public static X509Certificate caCertificate(Path caDir) {
        return Pem.readCertificate(caDir.resolve(CA_CERT), "CA certificate");
    }

    /** SHA-256 of the certificate's DER encoding, as colon-separated upper-case hex (the form most tools print). */
    public static String fingerprint(X509Certificate cert) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
            return HexFormat.ofDelimiter(":").withUpperCase().formatHex(d);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is not available in this JVM", e);
        }
    }

    /** The first value of an attribute (CN, OU…) in a certificate's subject, or null. */
    static String subjectAttribute(X509Certificate cert, ASN1ObjectIdentifier attribute) {
        X500Name subject = X500Name.getInstance(cert.getSubjectX500Principal().getEncoded());
        RDN[] rdns = subject.getRDNs(attribute);
        if (rdns.length == 0) {
            return null;
        }
        // the attribute's text as written, not its escaped DN form
        ASN1Encodable v = rdns[0].getFirst().getValue();
        return v instanceof ASN1String text ? text.getString() : v.toString();
    }

    static X500Name subject(Role role, String name) {
        return new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.OU, role.ou())
                .addRDN(BCStyle.CN, name)
                .build();
    }

    /** Whether {@code key} is the private half of {@code publicKey}: a signature made with one verifies with the other.
     * */
    static boolean keyMatches(PrivateKey key, PublicKey publicKey) {
        if (!key.getAlgorithm().equals(publicKey.getAlgorithm())) {
            return false;
        }
        String alg = switch (publicKey.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "EdDSA", "Ed25519" -> "EdDSA";
            default ->
                throw new PkiException(
                        "unsupported key algorithm " + publicKey.getAlgorithm() + ": use keys made by `lifeboat pki`");
        };
        try {
            byte[] probe = new byte[32];
            RANDOM.nextBytes(probe);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(publicKey);
            v.update(probe);
            return v.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /** Names become file names and the CN: 1–64 letters, digits, '.', '-', '_' or '@', not starting with '.', and not
     * "ca". */
    static void validateName(String name) {
        if (name == null || name.isBlank()) {
            throw new PkiException("a certificate needs a name (its CN), e.g. agent-eu-west-1");
        }
        if (name.contains("/") || name.contains("\\")) {
            throw new PkiException("certificate name '" + name
                    + "' contains a path separator: give a plain name such as agent-eu-west-1 "
                    + "and choose the directory with --out");
        }
        if (name.length() > 64) {
            throw new PkiException(
                    "certificate name '" + name + "' is longer than 64 characters, the limit for a certificate's CN");
        }
        if (!name.matches("[A-Za-z0-9_@-][A-Za-z0-9._@-]*")) {
            throw new PkiException("certificate name '" + name
                    + "' may only contain letters, digits, '.', '-', '_' and '@' " + "(and may not start with '.')");
        }
        if (name.equalsIgnoreCase("ca")) {
            throw new PkiException(
                    "'ca' cannot name a certificate: its files would replace the CA's own ca.crt/ca.key");
        }
    }

    private static void validateDnsName(String dns) {
        if (dns.isEmpty() || dns.length() > 253 || !DNS_NAME.matcher(dns).matches()) {
            throw new PkiException("'" + dns + "' is not a valid DNS name for --dns (use --ip for an address)");
        }
    }

    private static InetAddress parseIp(String ip) {
        try {
            // a literal only: no name lookup, so a host name passed as --ip is refused rather than resolved
            return InetAddress.ofLiteral(ip);
        } catch (IllegalArgumentException e) {
            throw new PkiException("'" + ip + "' is not an IPv4 or IPv6 address for --ip (use --dns for a host name)");
        }
    }

    private static void requireText(String s, String what) {
        if (s == null || s.isBlank()) {
            throw new PkiException(what + " must not be empty");
        }
    }

    private static void requirePositive(Duration validity) {
        if (validity == null || validity.isNegative() || validity.isZero()) {
            throw new PkiException("validity must be positive, was " + validity);
        }
    }

    private static KeyPair newKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("EC P-256 is not available in this JVM", e);
        }
    }

    /** 159 random bits: positive, unpredictable, within the 20 octets certificates allow. */
    private static BigInteger newSerial() {
        BigInteger s;
        do {
            s = new BigInteger(159, RANDOM);
        } while (s.signum() == 0);
        return s;
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey key) throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter()
                    .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(key)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException(e.getMessage(), e);
        }
    }

    private static void createPrivateDir(Path dir) {
        if (Files.isDirectory(dir)) {
            return;
        }
        try {
            try {
                Files.createDirectories(
                        dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (UnsupportedOperationException notPosix) {
                Files.createDirectories(dir);
            }
        } catch (IOException e) {
            throw Pem.cannotWrite(dir, e);
        }
    }
}
