package dev.lifeboat.bench;

import dev.lifeboat.repository.crypto.ChunkIds;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * The keyed chunk id, HMAC-SHA-256 of each 128 KiB block ({@link ChunkIds}): the one hash every backed-up byte goes
 * through (a file's manifest digest is the SHA-256 of its chunk ids). Plain SHA-256 per 4 MiB read is kept beside it
 * as the reference of what a second, whole-file hash pass would cost.
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
public class HashBenchmark {
    private final MessageDigest sha;
    private final ChunkIds ids;

    public HashBenchmark() {
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        ids = new ChunkIds(key);
    }

    /** SHA-256 of a 16 MiB file, updated per 4 MiB read as FileBackup does. */
    @Benchmark
    public byte[] sha256(HotSlice h) {
        sha.reset();
        for (int r = 0; r < Sizes.SLICE; r += Sizes.READ_SIZE) {
            sha.update(h.buf, r, Sizes.READ_SIZE);
        }
        return sha.digest();
    }

    /** The keyed chunk id (HMAC-SHA-256 with the repository's id key) of each 128 KiB block. */
    @Benchmark
    public void hmacChunkId(HotSlice h, Blackhole bh) {
        for (int i = 0; i < Sizes.BLOCKS_PER_SLICE; i++) {
            bh.consume(ids.idOf(h.buf, i * Sizes.BLOCK, Sizes.BLOCK));
        }
    }
}
