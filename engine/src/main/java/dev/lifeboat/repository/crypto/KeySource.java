package dev.lifeboat.repository.crypto;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Arrays;
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
            byte[] secret;
            try {
                // a text key file (as `repo-init --key-file` writes) counts without surrounding whitespace
                String text = StandardCharsets.UTF_8
                        .newDecoder()
                        .decode(ByteBuffer.wrap(b))
                        .toString()
                        .strip();
                secret = text.getBytes(StandardCharsets.UTF_8);
            } catch (CharacterCodingException binary) {
                // raw random bytes (e.g. head -c 32 /dev/urandom): use them as they are, minus a trailing newline
                int n = b.length;
                if (n > 0 && b[n - 1] == '\n') {
                    n--;
                }
                secret = Arrays.copyOf(b, n);
            }
            if (secret.length < MIN_BYTES) {
                throw new IOException("key file " + path + " holds " + secret.length + " bytes; it needs at least "
                        + MIN_BYTES + " bytes (256 bits) of randomness");
            }
            return new KeyFile(path, secret);
        }

        /** Creates a new key file with 256 random bits, readable only by its owner. */
        public static KeyFile create(Path path) throws IOException {
            byte[] raw = new byte[32];
            new SecureRandom().nextBytes(raw);
            String text = Base64.getEncoder().encodeToString(raw);
            if (path.getParent() != null) {
                Files.createDirectories(path.getParent());
            }
            Files.createFile(
                    path,
                    PosixFilePermissions.asFileAttribute(
                            Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE)));
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
