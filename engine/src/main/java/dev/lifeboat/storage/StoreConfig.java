package dev.lifeboat.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;

/**
 * A store's own settings, written in a config file (a replication region's {@code "store"}) rather than taken from the
 * process environment: its endpoint, region or account, and credentials. So a second region can be another endpoint,
 * another account and other credentials than the primary, and a restore from it needs only its own.
 * <p>
 * A secret is never written into the file: {@code env:NAME} reads an environment variable, {@code file:/path} the
 * first line of a file (mode 0600, say). Without any credentials each backend uses its SDK's default chain (instance
 * profiles, workload identity, a service account's metadata), so nothing secret needs to be stored at all.
 */
public final class StoreConfig {
    private final String owner;
    private final Map<String, String> values;
    private final UnaryOperator<String> env;
    private final Retention retention;

    /**
     * @param owner what the settings belong to, for messages ({@code region eu})
     * @param raw   the JSON object's fields (strings, booleans, numbers)
     */
    public StoreConfig(String owner, Map<String, ?> raw, UnaryOperator<String> env) {
        this(owner, raw, env, null);
    }

    private StoreConfig(String owner, Map<String, ?> raw, UnaryOperator<String> env, Retention retention) {
        this.retention = retention;
        this.owner = owner;
        Map<String, String> v = new LinkedHashMap<>();
        raw.forEach((k, x) -> {
            if (x instanceof Map || x instanceof Iterable) {
                throw new IllegalArgumentException(owner + ": store setting '" + k + "' must be a single value");
            }
            if (x != null) {
                v.put(k, String.valueOf(x).strip());
            }
        });
        this.values = Collections.unmodifiableMap(v);
        this.env = env;
    }

    public static StoreConfig of(String owner, Map<String, ?> raw) {
        return new StoreConfig(owner, raw, System::getenv);
    }

    public String owner() {
        return owner;
    }

    /** The same settings for a write-once store. */
    public StoreConfig withRetention(Retention retention) {
        return new StoreConfig(owner, values, env, retention);
    }

    /** Null unless the store is write-once. */
    public Retention retention() {
        return retention;
    }

    /** False when only a retention is given: the endpoint and credentials are the environment's. */
    public boolean hasSettings() {
        return !values.isEmpty();
    }

    /** Refuses settings the backend does not know (a typo must not silently fall back to a default). */
    public void allowOnly(String backend, Set<String> known) {
        Set<String> unknown = new TreeSet<>(values.keySet());
        unknown.removeAll(known);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(owner + ": " + backend + " store settings " + unknown
                    + " are unknown; known: " + new TreeSet<>(known));
        }
    }

    /** A plain setting, or null. */
    public String get(String key) {
        String v = values.get(key);
        return v == null || v.isEmpty() ? null : v;
    }

    public boolean flag(String key, boolean dflt) {
        String v = get(key);
        if (v == null) {
            return dflt;
        }
        return switch (v) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException(owner + ": store setting " + key + " must be true or false");
        };
    }

    /** A secret setting, read from where {@code env:NAME} or {@code file:/path} points; null when not set. */
    public String secret(String key) {
        String ref = get(key);
        if (ref == null) {
            return null;
        }
        if (ref.startsWith("env:")) {
            String name = ref.substring(4);
            String value = env.apply(name);
            if (value == null || value.isBlank()) {
                throw new IllegalArgumentException(
                        owner + ": store setting " + key + " reads environment variable " + name + ", which is unset");
            }
            return value.strip();
        }
        if (ref.startsWith("file:")) {
            Path file = Path.of(ref.substring(5));
            try {
                String first = Files.readAllLines(file).stream()
                        .map(String::strip)
                        .filter(l -> !l.isEmpty())
                        .findFirst()
                        .orElse("");
                if (first.isEmpty()) {
                    throw new IllegalArgumentException(
                            owner + ": store setting " + key + " reads " + file + ", which is empty");
                }
                return first;
            } catch (IOException e) {
                throw new IllegalArgumentException(
                        owner + ": store setting " + key + " cannot read " + file + ": " + e.getMessage());
            }
        }
        throw new IllegalArgumentException(owner + ": store setting " + key + " must say where the secret is, "
                + "env:VARIABLE or file:/path, not hold it (config files are copied and shown)");
    }
}
