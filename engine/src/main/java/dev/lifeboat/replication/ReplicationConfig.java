package dev.lifeboat.replication;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.core.JacksonException;
import dev.lifeboat.storage.Retention;
import dev.lifeboat.storage.StoreConfig;
import dev.lifeboat.storage.azure.AzureSettings;
import dev.lifeboat.storage.gcs.GcsSettings;
import dev.lifeboat.storage.limiter.RateLimits;
import dev.lifeboat.storage.s3.S3Settings;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Where a repository is replicated: secondary-region stores, each a complete repository of its own (same
 * {@code config}, same keys), restorable with {@code --repo} pointing at it. Read from a JSON file:
 * <pre>{"regions": [{"name": "eu", "region": "eu-west-1", "uri": "s3://bk-eu/pg", "mode": "async", "bandwidth":
 * "50MiB", "store": {"region": "eu-west-1", "accessKeyId": "env:DR_EU_KEY_ID", "secretAccessKey":
 * "file:/etc/lifeboat/dr-eu.secret"}}]}</pre>
 * A region with a {@code store} object reaches its store with those settings alone ({@link StoreConfig}); one without
 * takes the environment's, as the primary does.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ReplicationConfig(List<Region> regions) {

    public enum Mode {
        /** An object is acknowledged only once durable in this region too. */
        SYNCHRONOUS,
        /** Objects are copied in the background by {@code lifeboat replication run}. */
        ASYNCHRONOUS
    }

    /**
     * @param bandwidth copy rate limit, e.g. {@code 20MiB} (per second); null or blank: unlimited
     * @param store     the region's own store settings (endpoint, account, credentials); null: the environment's
     * @param immutable write-once: how long every object is kept (and S3's Object Lock mode); null: none
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Region(
            String name,
            String region,
            String uri,
            String mode,
            String bandwidth,
            Map<String, Object> store,
            Retention immutable) {
        public Region(String name, String region, String uri, String mode, String bandwidth) {
            this(name, region, uri, mode, bandwidth, null, null);
        }

        /** Its own store settings and retention; null when it takes the environment's settings and is not
         * write-once. */
        public StoreConfig storeConfig() {
            if (store == null && immutable == null) {
                return null;
            }
            return StoreConfig.of("region " + name, store == null ? Map.of() : store)
                    .withRetention(immutable);
        }

        public Mode parsedMode() {
            String m = mode == null ? "async" : mode.toLowerCase(Locale.ROOT);
            return switch (m) {
                case "sync", "synchronous" -> Mode.SYNCHRONOUS;
                case "async", "asynchronous" -> Mode.ASYNCHRONOUS;
                default ->
                    throw new IllegalArgumentException(
                            "region " + name + ": mode '" + mode + "' is unknown; use sync or async");
            };
        }

        /** Bytes per second, 0 for unlimited. */
        public long bytesPerSecond() {
            return bandwidth == null || bandwidth.isBlank() ? 0 : parseSize(bandwidth);
        }

        /** The limits of this region's store: its bandwidth, each way. */
        public RateLimits limits() {
            return RateLimits.bytesPerSecond(bytesPerSecond());
        }
    }

    public static ReplicationConfig load(Path file) throws IOException {
        ReplicationConfig c;
        try {
            c = Json.MAPPER.readValue(Files.readAllBytes(file), ReplicationConfig.class);
        } catch (JacksonException e) {
            throw new IllegalArgumentException(
                    "replication config " + file + " is not valid JSON: " + e.getOriginalMessage());
        }
        c.validate(file.toString());
        return c;
    }

    void validate(String source) {
        if (regions == null || regions.isEmpty()) {
            throw new IllegalArgumentException("replication config " + source + " names no regions");
        }
        Set<String> names = new HashSet<>();
        for (Region r : regions) {
            if (r.name() == null
                    || !r.name().matches("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
                    || r.name().contains("..")) {
                throw new IllegalArgumentException("replication config " + source + ": region name '" + r.name()
                        + "' must be 1-63 letters, digits, '.', '_' or '-' (no '..')");
            }
            if (!names.add(r.name())) {
                throw new IllegalArgumentException(
                        "replication config " + source + ": region " + r.name() + " is named twice");
            }
            if (r.uri() == null || r.uri().isBlank()) {
                throw new IllegalArgumentException(
                        "replication config " + source + ": region " + r.name() + " has no uri");
            }
            r.parsedMode();
            r.bytesPerSecond();
            if (r.store() != null) {
                validateStore(source, r);
            }
            if (r.immutable() != null && r.parsedMode() == Mode.SYNCHRONOUS) {
                throw new IllegalArgumentException("replication config " + source + ": region " + r.name()
                        + " is write-once, so it cannot be synchronous (wal-stream rewrites its partial segment "
                        + "in place); make it async");
            }
        }
    }

    /** Settings the region's backend does not know, or a literal secret, fail here rather than at the first copy. */
    private static void validateStore(String source, Region r) {
        String scheme = r.uri().contains(":") ? r.uri().substring(0, r.uri().indexOf(':')) : "";
        StoreConfig c = r.storeConfig();
        switch (scheme) {
            case "s3" -> c.allowOnly("S3", S3Settings.CONFIG_KEYS);
            case "azure" -> c.allowOnly("Azure", AzureSettings.CONFIG_KEYS);
            case "gs" -> c.allowOnly("GCS", GcsSettings.CONFIG_KEYS);
            default -> c.allowOnly("local-disk", Set.of());
        }
        for (String secret : List.of("accessKeyId", "secretAccessKey", "accountKey", "sasToken", "connectionString")) {
            String v = c.get(secret);
            if (v != null && !v.startsWith("env:") && !v.startsWith("file:")) {
                throw new IllegalArgumentException("replication config " + source + ": region " + r.name() + ": "
                        + secret + " must say where the secret is (env:VARIABLE or file:/path), not hold it");
            }
        }
    }

    public Region region(String name) {
        return regions.stream()
                .filter(r -> r.name().equals(name))
                .findFirst()
                .orElseThrow(() ->
                        new IllegalArgumentException("no region '" + name + "' in the replication config; regions: "
                                + regions.stream().map(Region::name).toList()));
    }

    /** {@code 1048576}, {@code 512KiB}, {@code 20MiB}, {@code 1GiB} (also KB/MB/GB as powers of 1000). */
    static long parseSize(String s) {
        return RateLimits.parseSize("bandwidth", s);
    }
}
