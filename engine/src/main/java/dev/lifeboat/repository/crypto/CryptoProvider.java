package dev.lifeboat.repository.crypto;

import com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.Provider;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the data path's AES-GCM, HMAC-SHA-256 and SHA-256 come from: the Amazon Corretto Crypto Provider (AWS-LC,
 * native code on the CPU's AES, carry-less multiply and SHA instructions from the first call) where it loads, else the
 * JDK's.
 * The JDK's own GCM reaches those instructions only inside JIT-compiled callers: a restore spent its first second on
 * the Java code plus a warm-up thread, and a WAL pusher that calls the cipher once per segment never got there
 * ({@link CipherWarmup} is that fallback's remedy). The algorithms are standard, so the bytes are the same either way
 * and a repository written through one provider opens through the other (a test checks both directions).
 *
 * <p>Loading takes ~0.25 s (the native library is unpacked from the jar), so {@link #preload} starts it on a daemon
 * thread as a process starts and the first caller waits only for what is left. {@code LIFEBOAT_CRYPTO=jdk} (or
 * {@code -Dlifeboat.crypto=jdk}) keeps to the JDK.
 */
public final class CryptoProvider {
    private static final Logger LOG = LoggerFactory.getLogger(CryptoProvider.class);
    private static final FutureTask<Provider> LOAD = new FutureTask<>(CryptoProvider::load);
    private static final AtomicBoolean STARTED = new AtomicBoolean();
    /** Why the native provider is not in use, for {@link #describe}; null while it is (or before loading). */
    private static volatile String fallbackReason;

    private CryptoProvider() {}

    /** Starts loading the native provider in the background, once per process; later calls return at once. */
    public static void preload() {
        if (STARTED.compareAndSet(false, true)) {
            Thread t = new Thread(LOAD, "crypto-provider-load");
            t.setDaemon(true);
            t.start();
        }
    }

    /** The native provider, or null when the JDK's is used (not loadable here, or turned off). */
    static Provider nativeProvider() {
        preload();
        try {
            return LOAD.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (ExecutionException e) {
            return null;
        }
    }

    /** True when the native provider serves this process (then no JIT warm-up is needed). */
    public static boolean isNative() {
        return nativeProvider() != null;
    }

    /** A human-readable name of the provider in use, for diagnostics. */
    public static String describe() {
        Provider p = nativeProvider();
        return p == null ? "JDK (" + fallbackReason + ")" : p.getName() + " " + p.getVersionStr();
    }

    public static Cipher aesGcm() {
        try {
            Provider p = nativeProvider();
            return p == null ? Cipher.getInstance("AES/GCM/NoPadding") : Cipher.getInstance("AES/GCM/NoPadding", p);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is not available", e);
        }
    }

    public static Mac hmacSha256() {
        try {
            Provider p = nativeProvider();
            return p == null ? Mac.getInstance("HmacSHA256") : Mac.getInstance("HmacSHA256", p);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }

    public static MessageDigest sha256() {
        try {
            Provider p = nativeProvider();
            return p == null ? MessageDigest.getInstance("SHA-256") : MessageDigest.getInstance("SHA-256", p);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    static boolean turnedOff() {
        String v = System.getProperty("lifeboat.crypto", System.getenv("LIFEBOAT_CRYPTO"));
        return v != null && v.trim().toLowerCase(Locale.ROOT).equals("jdk");
    }

    /** The native provider, or null when turned off or not loadable (the reason goes to {@link #describe}). */
    static Provider load() {
        if (turnedOff()) {
            fallbackReason = "LIFEBOAT_CRYPTO=jdk";
            return null;
        }
        try {
            AmazonCorrettoCryptoProvider p = AmazonCorrettoCryptoProvider.INSTANCE;
            if (p.getLoadingError() != null) {
                return fallBack(p.getLoadingError());
            }
            // the first use of each algorithm runs its self-test: pay for it here, off the caller's path
            Cipher.getInstance("AES/GCM/NoPadding", p);
            Mac.getInstance("HmacSHA256", p);
            MessageDigest.getInstance("SHA-256", p);
            return p;
        } catch (LinkageError | RuntimeException | GeneralSecurityException e) {
            return fallBack(e);
        }
    }

    private static Provider fallBack(Throwable why) {
        fallbackReason = "native provider not loadable: " + why;
        LOG.debug("using the JDK's crypto: {}", fallbackReason);
        return null;
    }
}
