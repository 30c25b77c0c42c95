package dev.lifeboat.bench;

import dev.lifeboat.repository.compress.Compression;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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

/**
 * Compression at each {@code --compress} level, as PackWriter calls it: {@link Compression#compress} on 128 KiB
 * relation
 * blocks (codec byte and the store-as-is fallback included). The byte counters give the compression ratio.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@OperationsPerInvocation(Sizes.MIB_PER_SLICE)
@Fork(
        value = 1,
        jvmArgsAppend = {Defaults.XMX, Defaults.NATIVE, Defaults.UNSAFE})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class CompressionBenchmark {
    @Param({"none", "lz4", "low", "medium", "high"})
    public String level;

    private Compression compression;
    private byte[] out;

    @Setup(Level.Trial)
    public void setup() {
        compression = Compression.parse(level);
        out = new byte[compression.maxCompressedLength(Sizes.BLOCK)];
    }

    /** Input and output bytes of the measured iterations: their ratio is the compression ratio. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Bytes {
        public long inputBytes;
        public long outputBytes;

        @Setup(Level.Iteration)
        public void reset() {
            inputBytes = 0;
            outputBytes = 0;
        }
    }

    @Benchmark
    public long compress(HotSlice h, Bytes counters) {
        long total = 0;
        for (int i = 0; i < Sizes.BLOCKS_PER_SLICE; i++) {
            total += compression.compress(h.buf, i * Sizes.BLOCK, Sizes.BLOCK, out, 0);
        }
        counters.inputBytes += Sizes.SLICE;
        counters.outputBytes += total;
        return total;
    }
}
