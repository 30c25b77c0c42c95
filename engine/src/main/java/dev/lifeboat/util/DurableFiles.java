package dev.lifeboat.util;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/** Replacing a small file so that a crash leaves either the old or the new content, both durable. */
public final class DurableFiles {
    private DurableFiles() {}

    /** What to do to the temporary file before it takes the target's name (e.g. give it an owner). */
    public interface Preparation {
        void prepare(Path temporary) throws IOException;
    }

    /**
     * Writes {@code content} to a temporary file beside {@code target}, fsyncs it, sets {@code mode}, runs
     * {@code prepare}, renames it over {@code target} and fsyncs the directory.
     */
    public static void replace(Path target, byte[] content, Set<PosixFilePermission> mode, Preparation prepare)
            throws IOException {
        Path tmp = target.resolveSibling("." + target.getFileName() + ".lifeboat-tmp");
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            SlicedIo.write(ch, content, 0, content.length);
            ch.force(true);
        }
        Files.setPosixFilePermissions(tmp, mode);
        if (prepare != null) {
            prepare.prepare(tmp);
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        fsyncDirectory(target.toAbsolutePath().getParent());
    }

    public static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
