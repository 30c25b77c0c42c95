package dev.lifeboat.bench;

import dev.lifeboat.repository.crypto.Aead;
import dev.lifeboat.repository.crypto.DerivedKeyAead;
import dev.lifeboat.repository.crypto.Sealer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.security.SecureRandom;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Seal and open of one chunk-sized message under each repository format's scheme: {@code v1} = AES-256-GCM under the
 * master key ({@link Aead}), {@code v2} = a per-object HKDF-SHA-256 key from a fresh salt, then AES-256-GCM
 * ({@link DerivedKeyAead}). Random (incompressible) input of {@code size} bytes, in the CPU cache; no PostgreSQL data
 * set needed. Throughput is messages per second: multiply by {@code size} for bytes per second. The small sizes show
 * the fixed cost of the key derivation, the 1 MiB one what a FastCDC chunk pays.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {Defaults.NATIVE, Defaults.UNSAFE})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class SealSchemeBenchmark {
    @Param({"v1", "v2"})
    public String scheme;

    @Param({"1048576", "131072", "4096"})
    public int size;

    private Sealer sealer;
    private final byte[] aad = new byte[32]; // a chunk id's size
    private byte[] plain;
    private byte[] out;
    private byte[] sealed;

    @Setup(Level.Trial)
    public void setup() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        sealer = scheme.equals("v1") ? new Aead(key) : new DerivedKeyAead(key);
        plain = new byte[size];
        new SplittableRandom(1).nextBytes(plain);
        new SplittableRandom(2).nextBytes(aad);
        out = new byte[size + sealer.overhead()];
        sealed = sealer.seal(plain, aad);
        warmUpSmall();
    }

    /**
     * The JDK's GCM code is only fast once its callers are JIT-compiled, which takes thousands of calls: with 1 MiB
     * messages that is over a minute of interpreted GCM (tens of MB/s), far beyond JMH's warmup. A long-running
     * backup gets there; this gets there first, with small messages, so the score is the steady state.
     */
    private void warmUpSmall() {
        byte[] small = new byte[4096];
        byte[] smallOut = new byte[small.length + sealer.overhead()];
        try {
            for (int i = 0; i < 30_000; i++) {
                sealer.seal(small, 0, small.length, aad, smallOut, 0);
                sealer.open(smallOut, 0, smallOut.length, aad);
            }
        } catch (Aead.AuthenticationFailedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Into a reused buffer, as PackWriter seals into the pack. */
    @Benchmark
    public int seal() {
        return sealer.seal(plain, 0, plain.length, aad, out, 0);
    }

    /** Into a new array, as Repository.openChunk does. */
    @Benchmark
    public byte[] open() throws Aead.AuthenticationFailedException {
        return sealer.open(sealed, 0, sealed.length, aad);
    }
}
