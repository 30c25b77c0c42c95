package dev.lifeboat.storage;

/** Key rules shared by the object-store backends, so a key valid on one store is valid on every store. */
public final class BlobKeys {
    private BlobKeys() {}

    /** The same rules {@code LocalBlobStore} applies: relative, '/'-separated, no "..", no backslash. */
    public static String requireValid(String key) {
        if (key == null || key.isEmpty() || key.startsWith("/") || key.contains("..") || key.contains("\\")) {
            throw new IllegalArgumentException("invalid object key: " + key);
        }
        return key;
    }

    /** A prefix may be empty; otherwise the key rules apply. */
    public static String requireValidPrefix(String prefix) {
        return prefix.isEmpty() ? prefix : requireValid(prefix);
    }

    /** Turns the path part of {@code scheme://container/path} into a key prefix: "" or "path/" (never a leading '/').
     * */
    public static String rootPrefix(String path) {
        String p = path == null ? "" : path;
        while (p.startsWith("/")) {
            p = p.substring(1);
        }
        while (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        if (!p.isEmpty()) {
            requireValid(p);
        }
        return p.isEmpty() ? "" : p + "/";
    }
}
