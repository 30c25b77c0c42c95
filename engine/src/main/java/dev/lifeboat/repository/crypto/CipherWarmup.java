package dev.lifeboat.repository.crypto;

import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Gets AES-GCM onto the CPU's AES and carry-less multiply instructions early. The JDK swaps its Java GCM code for
 * those instructions only inside JIT-compiled callers, and a caller is compiled after some thousand calls: a backup
 * or restore sealing 128 KiB chunks ran its first ~1,000 chunks at ~75 MB/s (about half a second per direction), and
 * the WAL pusher, one call per 16 MiB segment, never got there (210 ms per segment, most of its time). Small messages
 * make the calls cheap: 3,000 seal/open rounds of mostly 2 KiB take 120–330 ms of one core on a background thread
 * and bring the same code to several GB/s (measured: docs/benchmarks.md, "AES-GCM warm-up"). Needed only where
 * {@link CryptoProvider} falls back to the JDK: the native provider runs at full speed from the first call.
 */
public final class CipherWarmup {
    static final int ROUNDS = 3000;
    static final int MESSAGE_BYTES = 2048;
    static final int LARGE_MESSAGE_BYTES = 2 * DerivedKeyAead.STEP_BYTES + 8192;
    private static final AtomicBoolean STARTED = new AtomicBoolean();

    private CipherWarmup() {}

    /** Starts the warm-up once per process, on a daemon thread (it never delays an exit). */
    public static void startOnce() {
        if (STARTED.compareAndSet(false, true)) {
            Thread t = new Thread(CipherWarmup::runUnlessNative, "aes-gcm-warmup");
            t.setDaemon(true);
            t.setPriority(Thread.MIN_PRIORITY);
            t.start();
        }
    }

    private static void runUnlessNative() {
        if (!CryptoProvider.isNative()) {
            run();
        }
    }

    /** Seals and opens small messages with a throwaway key through the code paths real objects take. */
    static void run() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        byte[] aad = {1, 2, 3};
        byte[] plain = new byte[LARGE_MESSAGE_BYTES];
        byte[] sealed = new byte[LARGE_MESSAGE_BYTES + DerivedKeyAead.OVERHEAD];
        Sealer v2 = new DerivedKeyAead(key);
        Aead v1 = new Aead(key);
        try {
            for (int i = 0; i < ROUNDS; i++) {
                Sealer s = (i & 7) == 0 ? v1 : v2; // format 1 shares the cipher; a few of its rounds are enough
                // mostly small messages (cheap calls), some long enough to take encryption's stepped path
                int len = (i & 15) == 5 ? LARGE_MESSAGE_BYTES : MESSAGE_BYTES;
                int n = s.seal(plain, 0, len, aad, sealed, 0);
                s.open(sealed, 0, n, aad);
            }
        } catch (Aead.AuthenticationFailedException | RuntimeException e) {
            // only speed is at stake; the real operations report their own crypto failures
        }
    }
}
