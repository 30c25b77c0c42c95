package dev.lifeboat.repository;

import dev.lifeboat.bench.DataSet;
import dev.lifeboat.bench.Defaults;
import dev.lifeboat.bench.HotSlice;
import dev.lifeboat.bench.Scratch;
import dev.lifeboat.bench.Sizes;
import dev.lifeboat.repository.compress.Compression;
import java.io.IOException;
import java.nio.file.Path;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Pack writing ({@link PackWriter}, package-private, hence this package): each 128 KiB block is compressed at
 * {@code compression} and sealed into the pack buffer; a pack is finished (sealed trailer, footer, SHA-256 of the whole
 * pack for its name) once it reaches the repository's 16 MiB, and a new one begun, as ChunkWriter does. Chunk ids are
 * computed beforehand, nothing is uploaded, and the input is in the CPU cache ({@link HotSlice}). With {@code none}
 * this is the packing proper: the copy, AES-256-GCM and
 * the pack's SHA-256.
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
public class PackWriterBenchmark {
    @Param({"none", "lz4", "low"})
    public String compression;

    private Path dir;
    private Repository repo;
    private Compression level;
    private ChunkId[] ids;
    private PackWriter pack;
    private int packSize;

    @Setup(Level.Trial)
    public void setup(DataSet d) throws IOException {
        dir = Scratch.create("pack");
        repo = Scratch.newRepository(dir);
        level = Compression.parse(compression);
        packSize = repo.config().packSize();
        ids = new ChunkId[d.data.length / Sizes.BLOCK];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = ChunkId.of(repo.chunkIds().idOf(d.data, i * Sizes.BLOCK, Sizes.BLOCK));
        }
        pack = newPack();
    }

    private PackWriter newPack() {
        return new PackWriter(repo, packSize + 1024 * 1024); // as ChunkWriter sizes it
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        Scratch.delete(dir);
    }

    @Benchmark
    public void writePacks(HotSlice h, Blackhole bh) {
        int first = h.index * Sizes.BLOCKS_PER_SLICE;
        for (int i = 0; i < Sizes.BLOCKS_PER_SLICE; i++) {
            pack.add(ids[first + i], h.buf, i * Sizes.BLOCK, Sizes.BLOCK, level);
            if (pack.size() >= packSize) {
                bh.consume(pack.finish());
                pack = newPack();
            }
        }
    }
}
