package dev.lifeboat.util;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sliced reads and writes return and store exactly the bytes of one whole call, around the slice size. */
class SlicedIoTest {
    static final int S = SlicedIo.SLICE_BYTES;

    @TempDir
    Path dir;

    @Test
    void writeThenReadAllAndRangesAtEverySizeAroundTheSlice() throws Exception {
        Random r = new Random(3);
        for (int n : new int[] {0, 1, S - 1, S, S + 1, 3 * S + 5}) {
            byte[] data = new byte[n + 10];
            r.nextBytes(data);
            Path f = dir.resolve("f" + n);
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                SlicedIo.write(ch, data, 7, n); // a slice of a larger array
            }
            byte[] expected = Arrays.copyOfRange(data, 7, 7 + n);
            assertThat(Files.readAllBytes(f)).as("%d bytes written", n).isEqualTo(expected);
            assertThat(SlicedIo.readAll(f)).as("%d bytes read", n).isEqualTo(expected);
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                byte[] out = new byte[n + 4];
                int off = n / 3;
                // asks past the end: gets what is there, into the middle of the array
                assertThat(SlicedIo.read(ch, out, 2, n, off)).isEqualTo(n - off);
                assertThat(Arrays.copyOfRange(out, 2, 2 + n - off)).isEqualTo(Arrays.copyOfRange(expected, off, n));
                assertThat(SlicedIo.read(ch, out, 0, 4, n)).as("at the end").isZero();
            }
        }
    }
}
