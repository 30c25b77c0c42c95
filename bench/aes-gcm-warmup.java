// The JDK's AES-GCM in a fresh JVM, as Lifeboat's processes meet it: how long the first 128 KiB chunks and 16 MiB WAL
// segments take with and without the warm-up Lifeboat runs (CipherWarmup: 3,000 seal/open rounds of 2 KiB) and with
// whole-message or 64 KiB-step encryption (DerivedKeyAead.encryptInSteps), and through the native provider Lifeboat
// uses where it loads (CryptoProvider: the Amazon Corretto Crypto Provider). Each case runs in its own JVM.
// Usage: java -cp cli/target/lifeboat.jar bench/aes-gcm-warmup.java   (JDK 25; one line per case; the jar only brings
//        the native provider, without it those cases are skipped; results in docs/benchmarks.md)
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public class AesGcmWarmup {
    static final SecretKeySpec KEY = new SecretKeySpec(new byte[32], "AES");
    static final SecureRandom RANDOM = new SecureRandom();
    static Cipher cipher;

    static int seal(byte[] p, int len, byte[] out, int step) throws Exception {
        byte[] iv = new byte[12];
        RANDOM.nextBytes(iv);
        cipher.init(Cipher.ENCRYPT_MODE, KEY, new GCMParameterSpec(128, iv));
        int o = 0;
        int q = 0;
        while (step > 0 && len - q > step) {
            o += cipher.update(p, q, step, out, o);
            q += step;
        }
        o += cipher.doFinal(p, q, len - q, out, o);
        cipher.init(Cipher.DECRYPT_MODE, KEY, new GCMParameterSpec(128, iv));
        cipher.doFinal(out, 0, o, p, 0);
        return o;
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            String java = ProcessHandle.current().info().command().orElse("java");
            String self = System.getProperty("jdk.launcher.sourcefile", "bench/aes-gcm-warmup.java");
            String cp = System.getProperty("java.class.path", "");
            for (String c : List.of("chunks 0 0", "chunks 3000 0", "segments 0 0", "segments 3000 0",
                    "segments 3000 65536", "chunks 0 0 native", "segments 0 65536 native")) {
                if (c.endsWith("native") && !cp.contains(".jar")) {
                    continue;
                }
                List<String> cmd = new ArrayList<>(List.of(java, "-XX:+UseParallelGC",
                        "--enable-native-access=ALL-UNNAMED", "-cp", cp, self));
                cmd.addAll(List.of(c.split(" ")));
                new ProcessBuilder(cmd).inheritIO().start().waitFor();
            }
            return;
        }
        boolean nativeProvider = args.length > 3;
        cipher = nativeProvider
                ? Cipher.getInstance("AES/GCM/NoPadding", (java.security.Provider) Class.forName(
                        "com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider").getField("INSTANCE").get(null))
                : Cipher.getInstance("AES/GCM/NoPadding");
        int warm = Integer.parseInt(args[1]);
        int step = Integer.parseInt(args[2]);
        long t0 = System.nanoTime();
        byte[] small = new byte[2048 + 16];
        for (int i = 0; i < warm; i++) {
            seal(small, 2048, small.clone(), 0);
        }
        StringBuilder sb = new StringBuilder(String.format("%-8s %-6s warm-up %4d rounds %4.0f ms, step %5d:", args[0],
                nativeProvider ? "native" : "JDK", warm, (System.nanoTime() - t0) / 1e6, step));
        boolean chunks = args[0].equals("chunks");
        int size = chunks ? 128 << 10 : 16 << 20;
        byte[] p = new byte[size];
        byte[] out = new byte[size + 16];
        for (int batch = 0; batch < (chunks ? 6 : 12); batch++) {
            long t = System.nanoTime();
            for (int i = 0; i < (chunks ? 500 : 1); i++) {
                seal(p, size, out, step);
            }
            sb.append(String.format(" %.0f", (System.nanoTime() - t) / 1e6));
        }
        System.out.println(sb + (chunks ? " ms per 500 chunks of 128 KiB (seal+open)" : " ms per 16 MiB (seal+open)"));
    }
}
