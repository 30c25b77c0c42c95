package dev.lifeboat.bench;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.SplittableRandom;
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
 * Simple references, the single-core ceilings the stages are compared with: copying the bytes once (from the cache, as
 * the {@code none} level and a pack's copy do, and from memory, as a file read does) and the bare gear-hash loop that
 * FastCDC is built on (every byte hashed, no cut tests, no skipped minimum); and SHA-256 on bytes streamed from
 * memory rather than the cache, to show what the cache is worth to a stage.
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
public class ReferenceBenchmark {
    private final byte[] buf = new byte[Sizes.BLOCK];
    private final byte[] readBuf = new byte[Sizes.READ_SIZE];
    private final MessageDigest sha;
    private final long[] gear = new long[256];

    public ReferenceBenchmark() {
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        SplittableRandom rnd = new SplittableRandom(42);
        for (int i = 0; i < 256; i++) {
            gear[i] = rnd.nextLong();
        }
    }

    /** System.arraycopy of each 128 KiB block of a slice in the CPU cache into a reused buffer. */
    @Benchmark
    public byte memcpy(HotSlice h) {
        for (int i = 0; i < Sizes.BLOCKS_PER_SLICE; i++) {
            System.arraycopy(h.buf, i * Sizes.BLOCK, buf, 0, Sizes.BLOCK);
        }
        return buf[Sizes.BLOCK - 1];
    }

    /**
     * System.arraycopy of each 4 MiB piece of the 1 GiB data set, streamed from memory, into a reused buffer: what
     * FileBackup's read costs at least (the kernel copies from the page cache into the worker's buffer).
     */
    @Benchmark
    public byte memcpyFromMemory(DataSet d) {
        int off = d.nextSlice();
        for (int r = 0; r < Sizes.SLICE; r += Sizes.READ_SIZE) {
            System.arraycopy(d.data, off + r, readBuf, 0, Sizes.READ_SIZE);
        }
        return readBuf[Sizes.READ_SIZE - 1];
    }

    /** SHA-256 straight from the 1 GiB array in memory, not from the cache: shows what the cache is worth to a stage.
     * */
    @Benchmark
    public byte[] sha256FromMemory(DataSet d) {
        int off = d.nextSlice();
        sha.reset();
        for (int r = 0; r < Sizes.SLICE; r += Sizes.READ_SIZE) {
            sha.update(d.data, off + r, Sizes.READ_SIZE);
        }
        return sha.digest();
    }

    /** The gear rolling hash over every byte, without FastCDC's cut tests. */
    @Benchmark
    public long gearHash(HotSlice h) {
        byte[] data = h.buf;
        long[] g = gear;
        long hash = 0;
        for (int i = 0; i < Sizes.SLICE; i++) {
            hash = (hash << 1) + g[data[i] & 0xff];
        }
        return hash;
    }
}
