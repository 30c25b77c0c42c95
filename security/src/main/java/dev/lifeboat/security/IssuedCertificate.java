package dev.lifeboat.security;

import java.math.BigInteger;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

/**
 * What {@link Pki#issue} wrote: the certificate, its private key and the CA certificate beside them (together a
 * {@link TlsFiles}), and the facts an operator checks (subject, SANs, validity, SHA-256 fingerprint).
 */
public record IssuedCertificate(
        Path cert,
        Path key,
        Path caCert,
        Pki.Role role,
        String commonName,
        List<String> dnsNames,
        List<String> ipAddresses,
        BigInteger serial,
        Instant notBefore,
        Instant notAfter,
        String fingerprint) {
    public IssuedCertificate {
        dnsNames = List.copyOf(dnsNames);
        ipAddresses = List.copyOf(ipAddresses);
    }

    /** The three files, ready for {@link MutualTls}. */
    public TlsFiles tlsFiles() {
        return new TlsFiles(caCert, cert, key);
    }
}
