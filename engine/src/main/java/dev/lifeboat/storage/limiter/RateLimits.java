package dev.lifeboat.storage.limiter;

import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How fast one store may be used; 0 means unlimited. Uploads and downloads have separate budgets (most links carry
 * both directions at full speed at once, and replication mostly writes while restore only reads); requests are
 * counted whatever their direction.
 *
 * @param uploadBytesPerSecond   bytes sent by put and putIfAbsent
 * @param downloadBytesPerSecond bytes received by get, getRange and streams from open
 * @param requestsPerSecond      operations of any kind (one per call: an attempt the retry layer repeats counts again)
 */
public record RateLimits(long uploadBytesPerSecond, long downloadBytesPerSecond, long requestsPerSecond) {
    public static final String UPLOAD_ENV = "LIFEBOAT_STORE_MAX_UPLOAD_BYTES_PER_SECOND";
    public static final String DOWNLOAD_ENV = "LIFEBOAT_STORE_MAX_DOWNLOAD_BYTES_PER_SECOND";
    public static final String REQUESTS_ENV = "LIFEBOAT_STORE_MAX_REQUESTS_PER_SECOND";
    public static final RateLimits NONE = new RateLimits(0, 0, 0);

    private static final Pattern SIZE =
            Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([KMGT]i?B?|B)?", Pattern.CASE_INSENSITIVE);

    public RateLimits {
        if (uploadBytesPerSecond < 0 || downloadBytesPerSecond < 0 || requestsPerSecond < 0) {
            throw new IllegalArgumentException("store rate limits must not be negative");
        }
    }

    /** The same byte rate both ways (a replication region's {@code bandwidth}). */
    public static RateLimits bytesPerSecond(long bytesPerSecond) {
        return new RateLimits(bytesPerSecond, bytesPerSecond, 0);
    }

    /** Reads {@value #UPLOAD_ENV}, {@value #DOWNLOAD_ENV} (sizes such as {@code 20MiB}) and {@value #REQUESTS_ENV}. */
    public static RateLimits fromEnvironment(Map<String, String> env) {
        return new RateLimits(size(env, UPLOAD_ENV), size(env, DOWNLOAD_ENV), count(env, REQUESTS_ENV));
    }

    public boolean unlimited() {
        return uploadBytesPerSecond == 0 && downloadBytesPerSecond == 0 && requestsPerSecond == 0;
    }

    /** Each limit the stricter of the two (a region's bandwidth under a process-wide limit). */
    public RateLimits stricter(RateLimits other) {
        return new RateLimits(
                min(uploadBytesPerSecond, other.uploadBytesPerSecond),
                min(downloadBytesPerSecond, other.downloadBytesPerSecond),
                min(requestsPerSecond, other.requestsPerSecond));
    }

    private static long min(long a, long b) {
        return a == 0 ? b : b == 0 ? a : Math.min(a, b);
    }

    private static long size(Map<String, String> env, String name) {
        String v = env.get(name);
        return v == null || v.isBlank() ? 0 : parseSize(name, v);
    }

    private static long count(Map<String, String> env, String name) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            return 0;
        }
        try {
            long n = Long.parseLong(v.strip());
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(name + " must be a positive whole number, got '" + v + "'");
    }

    /**
     * {@code 1048576}, {@code 512KiB}, {@code 20MiB}, {@code 1GiB} (also KB/MB/GB as powers of 1000); {@code what}
     * names the value in errors.
     */
    public static long parseSize(String what, String s) {
        Matcher m = SIZE.matcher(s.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException(what + " '" + s + "' is not a size such as 20MiB");
        }
        double v = Double.parseDouble(m.group(1));
        String u = m.group(2) == null ? "B" : m.group(2).toUpperCase(Locale.ROOT);
        long mult = switch (u) {
            case "B" -> 1L;
            case "K", "KIB" -> 1L << 10;
            case "M", "MIB" -> 1L << 20;
            case "G", "GIB" -> 1L << 30;
            case "T", "TIB" -> 1L << 40;
            case "KB" -> 1_000L;
            case "MB" -> 1_000_000L;
            case "GB" -> 1_000_000_000L;
            case "TB" -> 1_000_000_000_000L;
            default -> throw new IllegalArgumentException(what + " '" + s + "' has an unknown unit");
        };
        long bytes = (long) (v * mult);
        if (bytes <= 0) {
            throw new IllegalArgumentException(what + " '" + s + "' must be positive");
        }
        return bytes;
    }
}
