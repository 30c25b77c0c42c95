package dev.lifeboat.bench;

import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.Aead;
import java.security.SecureRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * AES-256-GCM ({@link Aead}, the JDK provider) on what PackWriter seals: 128 KiB relation blocks after compression at
 * level {@code input} ({@code none} = the raw block plus its codec byte, i.e. the cipher's own speed). Scores are per
 * byte of file data (the 16 MiB slice the blocks came from), so they compare directly with the other stages.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@OperationsPerInvocation(Sizes.MIB_PER_SLICE)
@Fork(
        value = 1,
        jvmArgsAppend = {Defaults.XMX, Defaults.NATIVE, Defaults.UNSAFE})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class AeadBenchmark {
    static final byte[] AAD = new byte[32]; // a chunk id's size

    static Aead newAead() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        new SecureRandom().nextBytes(AAD);
        return new Aead(key);
    }

    /** The next slice's blocks, copied outside the measured time into a buffer that stays in the CPU cache. */
    public abstract static class HotBlocks {
        Aead aead;
        Blocks blocks;
        byte[] hot;
        final int[] offsets = new int[Sizes.BLOCKS_PER_SLICE];
        final int[] lengths = new int[Sizes.BLOCKS_PER_SLICE];

        void prepare(DataSet d, Compression level, boolean sealed) {
            aead = newAead();
            blocks = Blocks.of(d.data, level, sealed ? aead : null, AAD);
            hot = blocks.sliceBuffer();
            PgHeapData.log(String.format(
                    "%s input: %s blocks, %.1f%% of the file bytes",
                    sealed ? "open" : "seal", level.label(), 100.0 * blocks.totalLength() / d.data.length));
            d.data = null; // only the blocks are used: keep the heap small
        }

        @Setup(Level.Invocation)
        public void nextSlice(DataSet d) {
            blocks.copySlice(d.nextSliceIndex(), hot, offsets, lengths);
        }
    }

    /** Compressed blocks to seal. */
    @State(Scope.Thread)
    public static class ToSeal extends HotBlocks {
        @Param({"none", "lz4", "low"})
        public String input;

        byte[] out;

        @Setup(Level.Trial)
        public void setup(DataSet d) {
            prepare(d, Compression.parse(input), false);
            out = new byte[Compression.parse(input).maxCompressedLength(Sizes.BLOCK) + Aead.OVERHEAD];
        }
    }

    /** Sealed compressed blocks to open (restore and verify --read-data). */
    @State(Scope.Thread)
    public static class ToOpen extends HotBlocks {
        @Param({"none", "low"})
        public String input;

        @Setup(Level.Trial)
        public void setup(DataSet d) {
            prepare(d, Compression.parse(input), true);
        }
    }

    /** Seal (encrypt + tag, fresh random nonce) each block of the next slice into a reused buffer, as into a pack. */
    @Benchmark
    public int seal(ToSeal s) {
        int total = 0;
        for (int i = 0; i < Sizes.BLOCKS_PER_SLICE; i++) {
            total += s.aead.seal(s.hot, s.offsets[i], s.lengths[i], AAD, s.out, 0);
        }
        return total;
    }

    /** Open (authenticate + decrypt into a new array, as Repository.openChunk does) each block of the next slice. */
    @Benchmark
    public void open(ToOpen o, Blackhole bh) throws Aead.AuthenticationFailedException {
        for (int i = 0; i < Sizes.BLOCKS_PER_SLICE; i++) {
            bh.consume(o.aead.open(o.hot, o.offsets[i], o.lengths[i], AAD));
        }
    }
}
