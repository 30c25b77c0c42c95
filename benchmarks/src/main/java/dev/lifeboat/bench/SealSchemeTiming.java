package dev.lifeboat.bench;

import dev.lifeboat.repository.crypto.Aead;
import dev.lifeboat.repository.crypto.DerivedKeyAead;
import dev.lifeboat.repository.crypto.Sealer;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Seal and open throughput of each repository format's scheme: format 1 = AES-256-GCM under the master key
 * ({@link Aead}), format 2 = a per-object HKDF-SHA-256 key from a fresh salt, then AES-256-GCM ({@link
 * DerivedKeyAead}).
 * A plain timing harness rather than JMH: it alternates the two schemes round by round in one JVM and reports medians,
 * so that load from other processes on a shared machine hits both alike (sequential JMH runs there differ by more than
 * the schemes do). Random input in the CPU cache; seal into a reused buffer (as PackWriter), open into a new array (as
 * Repository.openChunk).
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar dev.lifeboat.bench.SealSchemeTiming [rounds]</pre>
 */
public final class SealSchemeTiming {
    private SealSchemeTiming() {}

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        Sealer[] schemes = {new Aead(key), new DerivedKeyAead(key)};
        String[] names = {"format 1 (master key)", "format 2 (per-object key)"};
        byte[] aad = new byte[32]; // a chunk id's size
        warmUp(schemes, aad);
        System.out.printf(
                "%-27s %9s %14s %14s %14s %14s%n",
                "scheme", "size", "seal MB/s", "open MB/s", "seal µs/msg", "open µs/msg");
        for (int size : new int[] {1 << 20, 128 * 1024, 4096}) {
            int perRound = Math.max(8, (32 << 20) / size);
            byte[] plain = new byte[size];
            new SplittableRandom(size).nextBytes(plain);
            double[][] seal = new double[2][rounds];
            double[][] open = new double[2][rounds];
            byte[][] out = new byte[2][];
            byte[][] sealed = new byte[2][];
            for (int k = 0; k < 2; k++) {
                out[k] = new byte[size + schemes[k].overhead()];
                sealed[k] = schemes[k].seal(plain, aad);
            }
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < 2; k++) {
                    long t = System.nanoTime();
                    for (int i = 0; i < perRound; i++) {
                        schemes[k].seal(plain, 0, size, aad, out[k], 0);
                    }
                    seal[k][r] = (System.nanoTime() - t) / 1e9 / perRound;
                    t = System.nanoTime();
                    for (int i = 0; i < perRound; i++) {
                        schemes[k].open(sealed[k], 0, sealed[k].length, aad);
                    }
                    open[k][r] = (System.nanoTime() - t) / 1e9 / perRound;
                }
            }
            for (int k = 0; k < 2; k++) {
                double s = median(seal[k]);
                double o = median(open[k]);
                System.out.printf(
                        "%-27s %9d %14.0f %14.0f %14.2f %14.2f%n",
                        names[k], size, size / s / 1e6, size / o / 1e6, s * 1e6, o * 1e6);
            }
        }
    }

    /**
     * The JDK's GCM code is only fast once its callers are JIT-compiled, which takes thousands of calls: with 1 MiB
     * messages alone that is over a minute of interpreted GCM at tens of MB/s. A long-running backup gets there; this
     * gets there first with small messages, so the numbers are the steady state.
     */
    private static void warmUp(Sealer[] schemes, byte[] aad) throws Aead.AuthenticationFailedException {
        byte[] small = new byte[4096];
        byte[] out = new byte[small.length + DerivedKeyAead.OVERHEAD];
        for (int i = 0; i < 30_000; i++) {
            for (Sealer s : schemes) {
                int n = s.seal(small, 0, small.length, aad, out, 0);
                s.open(out, 0, n, aad);
            }
        }
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
