package dev.lifeboat.repository.compress;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class CompressionTest {

    static byte[] compressible(int n) {
        byte[] b = new byte[n];
        byte[] phrase =
                "PostgreSQL page with a tuple header and some repeated text; ".getBytes(StandardCharsets.US_ASCII);
        Random r = new Random(1);
        for (int i = 0; i < n; i++) {
            b[i] = (i % 512 < 400) ? phrase[i % phrase.length] : (byte) r.nextInt(4);
        }
        return b;
    }

    static byte[] incompressible(int n) {
        byte[] b = new byte[n];
        new Random(2).nextBytes(b);
        return b;
    }

    static byte expectedCodec(Compression c) {
        return switch (c) {
            case NONE -> Compression.CODEC_NONE;
            case LZ4 -> Compression.CODEC_LZ4;
            case LOW, MEDIUM, HIGH -> Compression.CODEC_ZSTD;
        };
    }

    /** Compresses into a buffer with leading and trailing slack, as PackWriter does into its scratch buffer. */
    static byte[] compress(Compression c, byte[] in, int off, int len) {
        int outOff = 7;
        byte[] out = new byte[outOff + c.maxCompressedLength(len) + 5];
        Arrays.fill(out, (byte) 0x5a);
        int n = c.compress(in, off, len, out, outOff);
        assertThat(n).isBetween(1, c.maxCompressedLength(len));
        assertThat(out[out.length - 1]).as("wrote past the bound").isEqualTo((byte) 0x5a);
        return Arrays.copyOfRange(out, outOff, outOff + n);
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void compressibleDataRoundTripsAndShrinks(Compression c) {
        byte[] data = compressible(256 * 1024);
        byte[] packed = compress(c, data, 0, data.length);
        assertThat(packed[0]).isEqualTo(expectedCodec(c));
        if (c != Compression.NONE) {
            assertThat(packed.length).isLessThan(data.length / 2);
        } else {
            assertThat(packed.length).isEqualTo(data.length + 1);
        }
        assertThat(Compression.decompress(packed, 0, packed.length, data.length))
                .isEqualTo(data);
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void incompressibleDataFallsBackToStoredBytes(Compression c) {
        byte[] data = incompressible(100_000);
        byte[] packed = compress(c, data, 0, data.length);
        assertThat(packed[0]).isEqualTo(Compression.CODEC_NONE);
        assertThat(packed.length).isEqualTo(data.length + 1);
        assertThat(Arrays.copyOfRange(packed, 1, packed.length)).isEqualTo(data);
        assertThat(Compression.decompress(packed, 0, packed.length, data.length))
                .isEqualTo(data);
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void sliceOfALargerBufferRoundTrips(Compression c) {
        byte[] data = compressible(64 * 1024);
        int off = 1000;
        int len = 40_000;
        byte[] packed = compress(c, data, off, len);
        // decompress from the middle of a larger array too
        byte[] framed = new byte[packed.length + 20];
        System.arraycopy(packed, 0, framed, 13, packed.length);
        assertThat(Compression.decompress(framed, 13, packed.length, len))
                .isEqualTo(Arrays.copyOfRange(data, off, off + len));
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void tinyAndEmptyInputsRoundTrip(Compression c) {
        for (int n : new int[] {0, 1, 2, 17}) {
            byte[] data = compressible(n);
            byte[] packed = compress(c, data, 0, n);
            assertThat(Compression.decompress(packed, 0, packed.length, n)).isEqualTo(data);
        }
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void decompressRejectsAWrongRawLength(Compression c) {
        byte[] data = c == Compression.NONE ? incompressible(10_000) : compressible(10_000);
        byte[] packed = compress(c, data, 0, data.length);
        for (int wrong : new int[] {data.length - 1, data.length + 1, data.length / 2, data.length * 2}) {
            assertThatThrownBy(() -> Compression.decompress(packed, 0, packed.length, wrong))
                    .as("rawLength %d instead of %d", wrong, data.length)
                    .isInstanceOf(RuntimeException.class);
        }
    }

    @Test
    void storedChunkWithAWrongRawLengthIsIllegalArgument() {
        byte[] data = incompressible(10_000);
        byte[] packed = compress(Compression.NONE, data, 0, data.length);
        assertThatThrownBy(() -> Compression.decompress(packed, 0, packed.length, data.length - 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("expected");
        assertThatThrownBy(() -> Compression.decompress(packed, 0, packed.length, data.length + 1))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * decompress() is written to report damaged zstd input as IllegalArgumentException ("zstd chunk is corrupt"),
     * but zstd-jni's decompressByteArray throws ZstdException itself instead of returning an error code, so the
     * isError branch is dead and callers that catch IllegalArgumentException (Repository.loadIndex,
     * Repository.loadSnapshot via unzstd) let a raw ZstdException escape.
     */
    @ParameterizedTest
    @EnumSource(
            value = Compression.class,
            names = {"LOW", "MEDIUM", "HIGH"})
    void zstdChunkWithAWrongRawLengthIsIllegalArgument(Compression c) {
        byte[] data = compressible(10_000);
        byte[] packed = compress(c, data, 0, data.length);
        assertThatThrownBy(() -> Compression.decompress(packed, 0, packed.length, data.length - 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Compression.decompress(packed, 0, packed.length, data.length + 1))
                .isInstanceOf(IllegalArgumentException.class);
        byte[] truncated = Arrays.copyOf(packed, packed.length - 10);
        assertThatThrownBy(() -> Compression.decompress(truncated, 0, truncated.length, data.length))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /** Whole WAL segments are compressed by two workers: still one frame with its size, as unzstd needs. */
    @Test
    void largeInputsCompressedInParallelRoundTrip() {
        for (int n : new int[] {Compression.PARALLEL_MIN_BYTES - 1, Compression.PARALLEL_MIN_BYTES, 16 << 20}) {
            byte[] data = compressible(n);
            byte[] frame = Compression.zstd(data, 1);
            assertThat(frame.length).isLessThan(n / 2);
            assertThat(Compression.unzstd(frame)).isEqualTo(data);
        }
    }

    @Test
    void unzstdReportsADamagedFrameAsIllegalArgument() {
        byte[] frame = Compression.zstd(compressible(50_000), 3);
        byte[] truncated = Arrays.copyOf(frame, frame.length - 10);
        assertThatThrownBy(() -> Compression.unzstd(truncated)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void decompressRejectsUnknownCodecAndEmptyInput() {
        byte[] blob = {9, 1, 2, 3};
        assertThatThrownBy(() -> Compression.decompress(blob, 0, blob.length, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("codec");
        byte[] negative = {(byte) 0xff, 1, 2, 3};
        assertThatThrownBy(() -> Compression.decompress(negative, 0, negative.length, 3))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Compression.decompress(blob, 0, 0, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void decompressRejectsDamagedZstdPayload() {
        byte[] data = compressible(50_000);
        byte[] packed = compress(Compression.MEDIUM, data, 0, data.length);
        byte[] truncated = Arrays.copyOf(packed, packed.length - 10);
        assertThatThrownBy(() -> Compression.decompress(truncated, 0, truncated.length, data.length))
                .isInstanceOf(RuntimeException.class);
    }

    @Test
    void parseAcceptsLabelsAndRejectsOthers() {
        for (Compression c : Compression.values()) {
            assertThat(Compression.parse(c.label())).isEqualTo(c);
            assertThat(Compression.parse(" " + c.name() + " ")).isEqualTo(c);
        }
        assertThat(Compression.MEDIUM.describe()).isEqualTo("zstd-3");
        assertThatThrownBy(() -> Compression.parse("gzip"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("gzip");
    }

    @Test
    void zstdFrameHelpersRoundTrip() {
        byte[] data = compressible(30_000);
        assertThat(Compression.unzstd(Compression.zstd(data, 3))).isEqualTo(data);
        assertThat(Compression.unzstd(Compression.zstd(new byte[0], 3))).isEmpty();
    }
}
