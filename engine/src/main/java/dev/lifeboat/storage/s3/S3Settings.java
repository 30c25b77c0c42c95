package dev.lifeboat.storage.s3;

import static dev.lifeboat.storage.CloudSettings.blankToNull;

import dev.lifeboat.storage.CloudSettings;
import dev.lifeboat.storage.Retention;
import dev.lifeboat.storage.StoreConfig;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * How to reach an S3 (or S3-compatible) service. Null means "not set": the SDK's defaults apply (default region and
 * credentials chains, AWS endpoints).
 *
 * @param endpoint            custom endpoint such as {@code http://127.0.0.1:9000} (MinIO, Ceph, a test server)
 * @param region              region name; when null the SDK's region chain is asked, falling back to us-east-1
 * @param pathStyle           {@code https://host/bucket/key} instead of {@code https://bucket.host/key}
 * @param accessKeyId         static credentials; when null the SDK's default credentials chain is used
 * @param secretAccessKey     static credentials, with {@code accessKeyId}
 * @param serverSideEncryption null, {@code AES256} or {@code aws:kms}
 * @param kmsKeyId            the KMS key for {@code aws:kms} (null: the bucket's or account's default key)
 * @param storageClass        e.g. {@code STANDARD_IA}; null: the bucket default
 * @param multipartThreshold  objects larger than this are uploaded in parts
 * @param partSize            size of each part (S3 requires at least 5 MiB for all parts but the last)
 * @param uploadThreads       parts of one object uploaded at once
 * @param maxAttempts         attempts per operation, the first included, made by the store stack's retry layer
 *                            (the SDK client itself makes one attempt per request)
 * @param timeout             socket read timeout of one request (a stalled response counts as a failed attempt)
 * @param profile             a named profile of the AWS config and credentials files, when there are no static
 *                            credentials; null: the SDK's default credentials chain
 * @param objectLock          a write-once region's retention: each upload carries an Object Lock retention of its
 *                            mode (when given) until {@code days} from now; null: none
 */
public record S3Settings(
        String endpoint,
        String region,
        boolean pathStyle,
        String accessKeyId,
        String secretAccessKey,
        String serverSideEncryption,
        String kmsKeyId,
        String storageClass,
        long multipartThreshold,
        long partSize,
        int uploadThreads,
        int maxAttempts,
        Duration timeout,
        String profile,
        Retention objectLock) {

    public static final long MIN_PART_SIZE = 5L << 20;
    public static final long DEFAULT_MULTIPART_THRESHOLD = 64L << 20;
    public static final long DEFAULT_PART_SIZE = 16L << 20;
    public static final int DEFAULT_UPLOAD_THREADS = 4;
    public static final int DEFAULT_MAX_ATTEMPTS = CloudSettings.DEFAULT_MAX_ATTEMPTS;
    public static final Duration DEFAULT_TIMEOUT = CloudSettings.DEFAULT_REQUEST_TIMEOUT;

    public S3Settings {
        endpoint = blankToNull(endpoint);
        region = blankToNull(region);
        accessKeyId = blankToNull(accessKeyId);
        secretAccessKey = blankToNull(secretAccessKey);
        serverSideEncryption = blankToNull(serverSideEncryption);
        kmsKeyId = blankToNull(kmsKeyId);
        storageClass = blankToNull(storageClass);
        profile = blankToNull(profile);
        if ((accessKeyId == null) != (secretAccessKey == null)) {
            throw new IllegalArgumentException(
                    "S3 static credentials need both an access key id and a secret access key");
        }
        if (serverSideEncryption != null
                && !serverSideEncryption.equals("AES256")
                && !serverSideEncryption.equals("aws:kms")) {
            throw new IllegalArgumentException(
                    "S3 server-side encryption must be AES256 or aws:kms, got '" + serverSideEncryption + "'");
        }
        if (kmsKeyId != null && !"aws:kms".equals(serverSideEncryption)) {
            throw new IllegalArgumentException("an S3 KMS key id needs server-side encryption aws:kms");
        }
        if (partSize < MIN_PART_SIZE) {
            throw new IllegalArgumentException("S3 part size must be at least 5 MiB, got " + partSize);
        }
        if (multipartThreshold < 1 || uploadThreads < 1 || maxAttempts < 1 || !CloudSettings.isPositive(timeout)) {
            throw new IllegalArgumentException(
                    "S3 multipart threshold, upload threads, attempts and timeout must be positive");
        }
    }

    /** Defaults: AWS endpoints, SDK chains for region and credentials, no SSE, bucket storage class. */
    public static S3Settings defaults() {
        return new S3Settings(
                null,
                null,
                false,
                null,
                null,
                null,
                null,
                null,
                DEFAULT_MULTIPART_THRESHOLD,
                DEFAULT_PART_SIZE,
                DEFAULT_UPLOAD_THREADS,
                DEFAULT_MAX_ATTEMPTS,
                DEFAULT_TIMEOUT,
                null,
                null);
    }

    /**
     * Reads {@code LIFEBOAT_S3_ENDPOINT}, {@code LIFEBOAT_S3_REGION}, {@code LIFEBOAT_S3_PATH_STYLE} (default: true
     * when an endpoint is set), {@code LIFEBOAT_S3_SSE}, {@code LIFEBOAT_S3_KMS_KEY_ID} and
     * {@code LIFEBOAT_S3_STORAGE_CLASS}. Credentials are left to the SDK chain, which reads {@code AWS_ACCESS_KEY_ID}
     * and {@code AWS_SECRET_ACCESS_KEY} itself (and profiles, web identity, instance roles).
     */
    public static S3Settings fromEnvironment(Map<String, String> env) {
        String endpoint = blankToNull(env.get("LIFEBOAT_S3_ENDPOINT"));
        String pathStyle = blankToNull(env.get("LIFEBOAT_S3_PATH_STYLE"));
        return defaults().copy(c -> {
            c.endpoint = endpoint;
            c.region = env.get("LIFEBOAT_S3_REGION");
            c.pathStyle = pathStyle == null ? endpoint != null : parseBoolean("LIFEBOAT_S3_PATH_STYLE", pathStyle);
            c.serverSideEncryption = env.get("LIFEBOAT_S3_SSE");
            c.kmsKeyId = env.get("LIFEBOAT_S3_KMS_KEY_ID");
            c.storageClass = env.get("LIFEBOAT_S3_STORAGE_CLASS");
        });
    }

    /** The settings a {@link StoreConfig} may name for S3. */
    public static final Set<String> CONFIG_KEYS = Set.of(
            "endpoint",
            "region",
            "pathStyle",
            "accessKeyId",
            "secretAccessKey",
            "profile",
            "serverSideEncryption",
            "kmsKeyId",
            "storageClass");

    /**
     * A store's own settings (a replication region's): nothing comes from this process's {@code LIFEBOAT_S3_*}
     * variables. Credentials: {@code accessKeyId} and {@code secretAccessKey} (secrets, {@code env:}/{@code file:}),
     * else a named {@code profile}, else the SDK's default chain (which reads {@code AWS_ACCESS_KEY_ID} first: on a
     * host whose environment holds the primary's keys, name this region's keys or profile).
     */
    public static S3Settings fromConfig(StoreConfig c) {
        c.allowOnly("S3", CONFIG_KEYS);
        String id = c.secret("accessKeyId");
        String secret = c.secret("secretAccessKey");
        if ((id == null) != (secret == null)) {
            throw new IllegalArgumentException(
                    c.owner() + ": S3 static credentials need both accessKeyId and secretAccessKey");
        }
        if (id != null && c.get("profile") != null) {
            throw new IllegalArgumentException(c.owner() + ": give S3 keys or a profile, not both");
        }
        String endpoint = c.get("endpoint");
        boolean pathStyle = c.flag("pathStyle", endpoint != null);
        try {
            return defaults().copy(s -> {
                s.endpoint = endpoint;
                s.region = c.get("region");
                s.pathStyle = pathStyle;
                s.serverSideEncryption = c.get("serverSideEncryption");
                s.kmsKeyId = c.get("kmsKeyId");
                s.storageClass = c.get("storageClass");
                s.accessKeyId = id;
                s.secretAccessKey = secret;
                s.profile = c.get("profile");
            });
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(c.owner() + ": " + e.getMessage(), e);
        }
    }

    /** The fields of a copy being made: each with-method sets what it changes, {@link #copy} builds (and checks) it. */
    private static final class Copy {
        String endpoint;
        String region;
        boolean pathStyle;
        String accessKeyId;
        String secretAccessKey;
        String serverSideEncryption;
        String kmsKeyId;
        String storageClass;
        long multipartThreshold;
        long partSize;
        int uploadThreads;
        int maxAttempts;
        Duration timeout;
        String profile;
        Retention objectLock;

        Copy(S3Settings s) {
            endpoint = s.endpoint;
            region = s.region;
            pathStyle = s.pathStyle;
            accessKeyId = s.accessKeyId;
            secretAccessKey = s.secretAccessKey;
            serverSideEncryption = s.serverSideEncryption;
            kmsKeyId = s.kmsKeyId;
            storageClass = s.storageClass;
            multipartThreshold = s.multipartThreshold;
            partSize = s.partSize;
            uploadThreads = s.uploadThreads;
            maxAttempts = s.maxAttempts;
            timeout = s.timeout;
            profile = s.profile;
            objectLock = s.objectLock;
        }

        S3Settings build() {
            return new S3Settings(
                    endpoint,
                    region,
                    pathStyle,
                    accessKeyId,
                    secretAccessKey,
                    serverSideEncryption,
                    kmsKeyId,
                    storageClass,
                    multipartThreshold,
                    partSize,
                    uploadThreads,
                    maxAttempts,
                    timeout,
                    profile,
                    objectLock);
        }
    }

    /** These settings with what {@code change} sets; the result is checked as a whole. */
    private S3Settings copy(Consumer<Copy> change) {
        Copy c = new Copy(this);
        change.accept(c);
        return c.build();
    }

    public S3Settings withObjectLock(Retention objectLock) {
        return copy(c -> c.objectLock = objectLock);
    }

    public S3Settings withStaticCredentials(String accessKeyId, String secretAccessKey) {
        return copy(c -> {
            c.accessKeyId = accessKeyId;
            c.secretAccessKey = secretAccessKey;
        });
    }

    public S3Settings withEndpoint(String endpoint, String region, boolean pathStyle) {
        return copy(c -> {
            c.endpoint = endpoint;
            c.region = region;
            c.pathStyle = pathStyle;
        });
    }

    public S3Settings withMultipart(long multipartThreshold, long partSize, int uploadThreads) {
        return copy(c -> {
            c.multipartThreshold = multipartThreshold;
            c.partSize = partSize;
            c.uploadThreads = uploadThreads;
        });
    }

    public S3Settings withMaxAttempts(int maxAttempts) {
        return copy(c -> c.maxAttempts = maxAttempts);
    }

    /** A shorter request timeout (tests that make a server stall). */
    public S3Settings withTimeout(Duration timeout) {
        return copy(c -> c.timeout = timeout);
    }

    private static boolean parseBoolean(String name, String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "true", "yes", "1", "on" -> true;
            case "false", "no", "0", "off" -> false;
            default -> throw new IllegalArgumentException(name + " must be true or false, got '" + value + "'");
        };
    }

    @Override
    public String toString() {
        // never print the secret
        return "S3Settings[endpoint=" + endpoint + ", region=" + region + ", pathStyle=" + pathStyle
                + ", staticCredentials=" + (accessKeyId != null) + ", sse=" + serverSideEncryption + ", storageClass="
                + storageClass + "]";
    }
}
