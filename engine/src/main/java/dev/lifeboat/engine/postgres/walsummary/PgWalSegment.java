package dev.lifeboat.engine.postgres.walsummary;

import dev.lifeboat.util.SlicedIo;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reads a segment file of pg_wal into a buffer the caller reuses (a reader is done with one when it asks for the
 * next).
 */
final class PgWalSegment {
    private PgWalSegment() {}

    /** {@code buffer} (of segment size) filled from {@code file}, or null if pg_wal has no such file of full size. */
    static byte[] read(Path file, byte[] buffer) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (ch.size() != buffer.length) {
                return null;
            }
            return SlicedIo.read(ch, buffer, 0, buffer.length, 0) == buffer.length ? buffer : null;
        } catch (NoSuchFileException e) {
            return null;
        }
    }
}
