package dev.lifeboat.engine.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PusherHeapTest {
    @TempDir
    Path walDir;

    private void file(String name, long size) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(walDir.resolve(name).toFile(), "rw")) {
            f.setLength(size); // sparse: only the size counts
        }
    }

    @Test
    void theHeapFollowsTheSegmentSizeAndTheNumberOfPushes() throws Exception {
        Files.writeString(walDir.resolve("00000002.history"), "1\t0/3000000\tno recovery target specified\n");
        file("000000010000000000000003", 64L << 20);
        assertThat(WalSpool.pusherHeapMib(walDir, 2)).isEqualTo(64 + 2 * 5 * 64);
        assertThat(WalSpool.pusherHeapMib(walDir, 4)).isEqualTo(64 + 4 * 5 * 64);
    }

    @Test
    void withoutASegmentToLookAtItAssumesTheDefaultSize() {
        assertThat(WalSpool.pusherHeapMib(walDir, 2)).isEqualTo(64 + 2 * 5 * 16);
        assertThat(WalSpool.pusherHeapMib(walDir.resolve("missing"), 0)).isEqualTo(64 + 5 * 16);
    }
}
