package dev.lifeboat.security;

import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/** PEM files: certificates, PKCS#8 private keys, and writing keys so that no other user can ever read them. */
final class Pem {
    private Pem() {}

    /** Every certificate in a PEM file (a CA file may hold several, e.g. the old and the new CA during a rotation). */
    static List<X509Certificate> readCertificates(Path file, String what) {
        List<X509Certificate> certs = new ArrayList<>();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
                PEMParser p = new PEMParser(r)) {
            JcaX509CertificateConverter conv = new JcaX509CertificateConverter();
            for (Object o = p.readObject(); o != null; o = p.readObject()) {
                if (o instanceof X509CertificateHolder h) {
                    certs.add(conv.getCertificate(h));
                }
            }
        } catch (NoSuchFileException e) {
            throw new PkiException(what + " " + file + " does not exist");
        } catch (AccessDeniedException e) {
            throw new PkiException(
                    what + " " + file + " is not readable by this user (" + System.getProperty("user.name") + ")");
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            throw new PkiException(what + " " + file + " is not a PEM certificate file: " + e.getMessage(), e);
        }
        if (certs.isEmpty()) {
            throw new PkiException(
                    what + " " + file + " holds no certificate (expected a PEM block '-----BEGIN CERTIFICATE-----')");
        }
        return certs;
    }

    static X509Certificate readCertificate(Path file, String what) {
        return readCertificates(file, what).getFirst();
    }

    /** A private key in PKCS#8 ("PRIVATE KEY") or traditional ("EC PRIVATE KEY") PEM; encrypted keys are refused. */
    static PrivateKey readPrivateKey(Path file, String what) {
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
                PEMParser p = new PEMParser(r)) {
            JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
            for (Object o = p.readObject(); o != null; o = p.readObject()) {
                if (o instanceof PrivateKeyInfo info) {
                    return conv.getPrivateKey(info);
                }
                if (o instanceof PEMKeyPair pair) {
                    return conv.getKeyPair(pair).getPrivate();
                }
                if (o instanceof PKCS8EncryptedPrivateKeyInfo || o instanceof PEMEncryptedKeyPair) {
                    throw new PkiException(
                            what + " " + file + " is encrypted with a passphrase, which is not supported: "
                                    + "protect it with file permissions (0600) instead");
                }
            }
        } catch (NoSuchFileException e) {
            throw new PkiException(what + " " + file + " does not exist");
        } catch (AccessDeniedException e) {
            throw new PkiException(
                    what + " " + file + " is not readable by this user (" + System.getProperty("user.name") + ")");
        } catch (PkiException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new PkiException(what + " " + file + " is not a PEM private key: " + e.getMessage(), e);
        }
        throw new PkiException(what + " " + file + " holds no private key (expected '-----BEGIN PRIVATE KEY-----')");
    }

    static String encode(Object o) {
        StringWriter sw = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
            w.writeObject(o);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return sw.toString();
    }

    static String encodePrivateKey(PrivateKey key) {
        try {
            return encode(new JcaPKCS8Generator(key, null).generate());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Creates {@code file} (it must not exist) already restricted to its owner, so the key is never readable by others,
     * not even for a moment; removes it again if the write fails.
     */
    static void writeNewSecret(Path file, String content) {
        try {
            try {
                Files.createFile(
                        file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (UnsupportedOperationException notPosix) {
                Files.createFile(file);
            }
        } catch (FileAlreadyExistsException e) {
            throw new PkiException(file + " already exists; not overwriting it");
        } catch (IOException e) {
            throw cannotWrite(file, e);
        }
        writeCreated(file, content);
    }

    /** Creates {@code file} (it must not exist) with the default permissions. */
    static void writeNew(Path file, String content) {
        try {
            Files.writeString(
                    file, content, StandardCharsets.US_ASCII, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        } catch (FileAlreadyExistsException e) {
            throw new PkiException(file + " already exists; not overwriting it");
        } catch (IOException e) {
            throw cannotWrite(file, e);
        }
    }

    private static void writeCreated(Path file, String content) {
        try {
            Files.writeString(
                    file,
                    content,
                    StandardCharsets.US_ASCII,
                    StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.SYNC);
        } catch (IOException e) {
            deleteQuietly(file);
            throw cannotWrite(file, e);
        }
    }

    static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException ignored) {
            // best effort: the caller reports the original failure
        }
    }

    static PkiException cannotWrite(Path file, IOException e) {
        if (e instanceof AccessDeniedException) {
            return new PkiException(
                    "cannot write " + file + ": permission denied (running as " + System.getProperty("user.name") + ")",
                    e);
        }
        if (e instanceof NoSuchFileException) {
            return new PkiException("cannot write " + file + ": its directory does not exist", e);
        }
        return new PkiException("cannot write " + file + ": " + e.getMessage(), e);
    }
}
