package dev.lifeboat.bench;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Scratch directories for benchmarks that write: on tmpfs ({@code /dev/shm}) when there is one, so the measurement is
 * the
 * CPU work and not a disk; {@code -Dlifeboat.bench.tmp=DIR} chooses another place. Removed at the end of the trial and,
 * should the fork die, by a shutdown hook.
 */
public final class Scratch {
    private Scratch() {}

    public static Path create(String what) throws IOException {
        String prop = System.getProperty("lifeboat.bench.tmp");
        Path parent = prop != null && !prop.isBlank()
                ? Path.of(prop)
                : Files.isDirectory(Path.of("/dev/shm")) && Files.isWritable(Path.of("/dev/shm"))
                        ? Path.of("/dev/shm")
                        : Path.of(System.getProperty("java.io.tmpdir"));
        Files.createDirectories(parent);
        Path dir = Files.createTempDirectory(parent, "lifeboat-bench-stages-" + what + "-");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                PgHeapData.deleteTree(dir);
            } catch (IOException ignored) {
                // best effort
            }
        }));
        return dir;
    }

    public static void delete(Path dir) {
        try {
            PgHeapData.deleteTree(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A new encrypted repository (AES-256-GCM, key file, default chunking and pack size) under {@code dir/repo}. */
    public static Repository newRepository(Path dir) throws IOException {
        LocalBlobStore store = new LocalBlobStore(dir.resolve("repo"));
        KeySource.KeyFile key = KeySource.KeyFile.create(dir.resolve("key"));
        Repository.init(store, key, false);
        return Repository.open(store, key);
    }
}
