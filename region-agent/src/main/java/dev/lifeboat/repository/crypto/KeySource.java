package dev.lifeboat.repository.crypto;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;

/** Where the key-encryption key comes from: a passphrase or the contents of a key file. */
public sealed interface KeySource {

    /** The secret bytes the KEK is derived from. */
    byte[] secret();

    String kind();

    record Passphrase(char[] passphrase) implements KeySource {
        public Passphrase {
            if (passphrase == null || passphrase.length == 0) {
                throw new IllegalArgumentException("the passphrase is empty");
            }
        }

        @Override
        public byte[] secret() {
            return new String(passphrase).getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public String kind() {
            return "passphrase";
        }
    }

    record KeyFile(Path path, byte[] contents) implements KeySource {
        public static final int MIN_BYTES = 32;

        /** Reads an existing key file. */
        public static KeyFile read(Path path) throws IOException {
            if (!Files.isRegularFile(path)) {
                throw new IOException("key file " + path + " does not exist or is not a regular file");
            }
            byte[] b = Files.readAllBytes(path);
            String text = new String(b, StandardCharsets.UTF_8).strip();
            if (text.length() < MIN_BYTES && b.length < MIN_BYTES) {
                throw new IOException("key file " + path + " holds fewer than " + MIN_BYTES + " bytes; it needs at least 256 bits of randomness");
            }
            return new KeyFile(path, text.getBytes(StandardCharsets.UTF_8));
        }

        /** Creates a new key file with 256 random bits, readable only by its owner. */
        public static KeyFile create(Path path) throws IOException {
            byte[] raw = new byte[32];
            new SecureRandom().nextBytes(raw);
            String text = Base64.getEncoder().encodeToString(raw);
            if (path.getParent() != null) {
                Files.createDirectories(path.getParent());
            }
            Files.createFile(path, PosixFilePermissions.asFileAttribute(Set.of(
                    java.nio.file.attribute.PosixFilePermission.OWNER_READ, java.nio.file.attribute.PosixFilePermission.OWNER_WRITE)));
            Files.writeString(path, text + "\n");
            return new KeyFile(path, text.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public byte[] secret() {
            return contents;
        }

        @Override
        public String kind() {
            return "keyfile";
        }
    }
}
