package dev.lifeboat.security;

import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.style.BCStyle;

/**
 * The three PEM files one end of a mutual-TLS connection needs: the CA certificate it trusts (and nothing else),
 * its own certificate, and that certificate's private key.
 */
public record TlsFiles(Path caCert, Path cert, Path key) {
    public TlsFiles {
        if (caCert == null || cert == null || key == null) {
            throw new PkiException("TLS needs three files: the CA certificate, a certificate and its key (got ca="
                    + caCert + ", cert=" + cert + ", key=" + key + ")");
        }
    }

    /** {@code dir/ca.crt}, {@code dir/<name>.crt}, {@code dir/<name>.key}: the layout {@code lifeboat pki issue}
     * writes. */
    public static TlsFiles inDir(Path dir, String name) {
        return new TlsFiles(dir.resolve(Pki.CA_CERT), dir.resolve(name + ".crt"), dir.resolve(name + ".key"));
    }

    /**
     * Checks that the files can serve a TLS connection now: all readable, the certificate within its validity, the key
     * belonging to it, and the certificate signed by (one of) the CA certificate(s). Throws {@link PkiException} saying
     * what is wrong and what to do; returns the certificate.
     */
    public X509Certificate check() {
        return check(Instant.now());
    }

    X509Certificate check(Instant at) {
        List<X509Certificate> cas = caCertificates();
        X509Certificate c = certificate();
        PrivateKey k = privateKey();
        String who = describe(c);
        for (X509Certificate ca : cas) {
            validity(
                    ca,
                    at,
                    "CA certificate " + caCert + " ("
                            + ca.getSubjectX500Principal().getName() + ")",
                    "create a new CA with `lifeboat pki init` and issue every certificate again");
        }
        validity(c, at, "certificate " + cert + " (" + who + ")", "issue a new one with `lifeboat pki issue`");
        if (!Pki.keyMatches(k, c.getPublicKey())) {
            throw new PkiException("private key " + key + " does not belong to certificate " + cert + " (" + who
                    + "): use the .key file written together with that .crt");
        }
        boolean signed = false;
        for (X509Certificate ca : cas) {
            if (ca.getSubjectX500Principal().equals(c.getIssuerX500Principal()) && verifies(c, ca)) {
                signed = true;
                break;
            }
        }
        if (!signed) {
            throw new PkiException("certificate " + cert + " (" + who + ", issued by "
                    + c.getIssuerX500Principal().getName()
                    + ") was not signed by the CA in " + caCert + " ("
                    + cas.getFirst().getSubjectX500Principal().getName()
                    + "): peers trusting that CA will refuse it. Issue one from this CA with `lifeboat pki "
                    + "issue`, or point at the CA that issued it");
        }
        return c;
    }

    /** The identity this certificate presents to peers (CN and role), as {@link MutualTls#identityInterceptor()} will
     * see it. */
    public MutualTls.PeerIdentity identity() {
        return MutualTls.PeerIdentity.of(certificate());
    }

    public X509Certificate certificate() {
        return Pem.readCertificate(cert, "certificate");
    }

    public List<X509Certificate> caCertificates() {
        return Pem.readCertificates(caCert, "CA certificate");
    }

    PrivateKey privateKey() {
        return Pem.readPrivateKey(key, "private key");
    }

    private static void validity(X509Certificate c, Instant at, String what, String fix) {
        try {
            c.checkValidity(Date.from(at));
        } catch (CertificateExpiredException e) {
            throw new PkiException(what + " expired on " + c.getNotAfter().toInstant() + ": " + fix);
        } catch (CertificateNotYetValidException e) {
            throw new PkiException(what + " is not valid until "
                    + c.getNotBefore().toInstant() + ": check this host's clock, or wait until then");
        }
    }

    private static boolean verifies(X509Certificate c, X509Certificate ca) {
        try {
            c.verify(ca.getPublicKey());
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private static String describe(X509Certificate c) {
        String cn = Pki.subjectAttribute(c, BCStyle.CN);
        String ou = Pki.subjectAttribute(c, BCStyle.OU);
        return "CN=" + cn + (ou == null ? "" : ", role " + ou);
    }
}
