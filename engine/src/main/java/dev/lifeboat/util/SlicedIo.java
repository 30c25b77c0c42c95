package dev.lifeboat.util;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * File reads and writes of heap arrays in 1 MiB slices. The JDK moves a heap buffer through a temporary native buffer
 * of the same size and keeps it cached per thread, so one call with a 16 MiB pack, range or WAL segment left every
 * thread that made it holding 16 MiB of native memory for the rest of the process (a backup's peak RSS carried
 * ~65 MiB of them). Slices keep those buffers at 1 MiB, at the cost of a few more system calls per object.
 */
public final class SlicedIo {
    static final int SLICE_BYTES = 1024 * 1024;

    private SlicedIo() {}

    /** Reads up to {@code len} bytes at {@code position}; fewer only at the end of the file. Returns the count. */
    public static int read(FileChannel ch, byte[] b, int off, int len, long position) throws IOException {
        int n = 0;
        while (n < len) {
            int r = ch.read(ByteBuffer.wrap(b, off + n, Math.min(SLICE_BYTES, len - n)), position + n);
            if (r < 0) {
                break;
            }
            n += r;
        }
        return n;
    }

    /** Writes all of {@code b[off, off + len)} at the channel's position. */
    public static void write(FileChannel ch, byte[] b, int off, int len) throws IOException {
        int end = off + len;
        for (int at = off; at < end; ) {
            ByteBuffer buf = ByteBuffer.wrap(b, at, Math.min(SLICE_BYTES, end - at));
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            at = buf.position();
        }
    }

    /** The whole file, like {@link java.nio.file.Files#readAllBytes} (including what is appended while it reads). */
    public static byte[] readAll(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE - 8) {
                throw new OutOfMemoryError(file + " is too large to read into memory (" + size + " bytes)");
            }
            byte[] b = new byte[(int) size];
            int n = read(ch, b, 0, b.length, 0);
            if (n < b.length) {
                return Arrays.copyOf(b, n); // it shrank while we read
            }
            while (true) { // it may have grown: read on to its end
                byte[] more = new byte[SLICE_BYTES];
                int r = read(ch, more, 0, more.length, n);
                if (r == 0) {
                    return b;
                }
                b = Arrays.copyOf(b, n + r);
                System.arraycopy(more, 0, b, n, r);
                n += r;
            }
        }
    }
}
