package dev.lifeboat.bench;

import dev.lifeboat.repository.RepositoryConfig;
import dev.lifeboat.repository.chunking.Chunker;
import dev.lifeboat.repository.chunking.FastCdcChunker;
import dev.lifeboat.repository.chunking.FixedBlockChunker;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Chunking: where FileBackup cuts a file. Each slice is treated as one 16 MiB file (the size of a WAL segment, which is
 * what FastCDC mostly sees), in the CPU cache as after FileBackup's read; the cuts are the same calls FileBackup makes.
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
public class ChunkingBenchmark {
    private static final RepositoryConfig.Chunking CK = RepositoryConfig.Chunking.defaults(0x5eed_1eaf_b0a7L);
    private final Chunker fastCdc = new FastCdcChunker(CK.minSize(), CK.avgSize(), CK.maxSize(), CK.seed());
    private final Chunker fixed = new FixedBlockChunker(CK.relationBlockSize());

    /** FastCDC with the repository defaults (min 256 KiB, avg 1 MiB, max 4 MiB): non-relation files and WAL. */
    @Benchmark
    public int fastCdc(HotSlice h) {
        return cut(fastCdc, h.buf, 0);
    }

    /** Fixed 128 KiB blocks: relation files. No per-byte work at all, so this is only the call overhead. */
    @Benchmark
    public int fixedBlock(DataSet d) {
        return cut(fixed, d.data, d.nextSlice()); // reads no bytes, so no need for a slice in the cache
    }

    static int cut(Chunker chunker, byte[] data, int off) {
        int end = off + Sizes.SLICE;
        int chunks = 0;
        while (off < end) {
            int left = end - off;
            off += chunker.nextCut(data, off, left, left <= chunker.maxSize());
            chunks++;
        }
        return chunks;
    }
}
