package dev.lifeboat.storage.s3;

import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.CloudBlobStore;
import dev.lifeboat.storage.TransientStoreException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.ProfileCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.BucketAlreadyOwnedByYouException;
import software.amazon.awssdk.services.s3.model.ChecksumAlgorithm;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.CreateMultipartUploadRequest;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.model.UploadPartResponse;

/**
 * A store in an S3 bucket under an optional key prefix ({@code s3://bucket/prefix}). S3 makes a PUT (and the completion
 * of a multipart upload) visible whole or not at all, and only acknowledges it once it is durably stored, which is the
 * contract {@link BlobStore} asks for. {@link #putIfAbsent} is a conditional PUT ({@code If-None-Match: *}).
 */
public final class S3BlobStore extends CloudBlobStore {
    private static final int MAX_PARTS = 10_000;

    private final S3Client s3;
    private final String bucket;
    private final S3Settings settings;

    public S3BlobStore(String bucket, String prefix, S3Settings settings) {
        super("S3", "s3", "bucket", bucket, prefix);
        this.bucket = bucket;
        this.settings = settings;
        this.s3 = client(settings);
    }

    /** {@code s3://bucket} or {@code s3://bucket/some/prefix}. */
    public static S3BlobStore open(URI uri, S3Settings settings) {
        return new S3BlobStore(uri.getAuthority(), uri.getPath(), settings);
    }

    private static S3Client client(S3Settings settings) {
        S3ClientBuilder b = S3Client.builder()
                .httpClientBuilder(Apache5HttpClient.builder()
                        .maxConnections(Math.max(50, settings.uploadThreads() * 4))
                        .connectionTimeout(Duration.ofSeconds(10))
                        .socketTimeout(settings.timeout()))
                // one attempt per request: the retry layer of the store stack (BlobStores) makes further attempts
                .overrideConfiguration(ClientOverrideConfiguration.builder()
                        .retryStrategy(AwsRetryStrategy.doNotRetry())
                        .build())
                .forcePathStyle(settings.pathStyle());
        if (settings.endpoint() != null) {
            b.endpointOverride(URI.create(settings.endpoint()));
        }
        if (settings.region() != null) {
            b.region(Region.of(settings.region()));
        } else {
            Region region;
            try {
                region = new DefaultAwsRegionProviderChain().getRegion();
            } catch (SdkException e) {
                // no region configured anywhere: any region works for a custom endpoint; on AWS let S3 redirect us
                region = Region.US_EAST_1;
                if (settings.endpoint() == null) {
                    b.crossRegionAccessEnabled(true);
                }
            }
            b.region(region);
        }
        AwsCredentialsProvider credentials = settings.accessKeyId() != null
                ? StaticCredentialsProvider.create(
                        AwsBasicCredentials.create(settings.accessKeyId(), settings.secretAccessKey()))
                : settings.profile() != null
                        ? ProfileCredentialsProvider.create(settings.profile())
                        : DefaultCredentialsProvider.builder().build();
        return b.credentialsProvider(credentials).build();
    }

    /**
     * Service errors S3 asks to retry (5xx, throttling) and broken connections, including a response cut off mid-body,
     * which the SDK reports as an unparsable response ("Could not parse XML response") caused by an IOException.
     */
    private static boolean isTransient(Throwable cause) {
        if (cause instanceof S3Exception s) {
            return TransientStoreException.transientStatus(s.statusCode()) || s.isThrottlingException();
        }
        return TransientStoreException.causedByConnection(cause);
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        String k = objectName(key);
        Objects.checkFromIndexSize(offset, length, data.length);
        if (length > settings.multipartThreshold()) {
            multipartPut(key, k, data, offset, length);
        } else {
            call("put", key, () -> s3.putObject(putRequest(k, length, false), body(data, offset, length)));
        }
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        // always one PUT (at most 2 GiB from a byte[], S3 takes up to 5 GiB): the condition is checked where the object
        // is stored
        String k = objectName(key);
        try {
            s3.putObject(putRequest(k, data.length, true), body(data, 0, data.length));
            return true;
        } catch (S3Exception e) {
            // 412: it exists (perhaps from an earlier attempt of this call whose answer was lost);
            // 409: a concurrent conditional write to the same key is in progress and will win or fail
            if (e.statusCode() == 412) {
                return holdsExactly(key, data);
            }
            if (e.statusCode() == 409) {
                return false;
            }
            throw failure("put-if-absent", key, e);
        } catch (SdkException e) {
            throw failure("put-if-absent", key, e);
        }
    }

    private PutObjectRequest putRequest(String k, long length, boolean ifAbsent) {
        PutObjectRequest.Builder r = PutObjectRequest.builder()
                .bucket(bucket)
                .key(k)
                .contentLength(length)
                .contentType(CONTENT_TYPE);
        if (settings.serverSideEncryption() != null) {
            r.serverSideEncryption(settings.serverSideEncryption()).ssekmsKeyId(settings.kmsKeyId());
        }
        if (settings.storageClass() != null) {
            r.storageClass(settings.storageClass());
        }
        if (ifAbsent) {
            r.ifNoneMatch("*");
        }
        if (lockMode() != null) {
            r.objectLockMode(lockMode()).objectLockRetainUntilDate(lockedUntil());
        }
        return r.build();
    }

    /** A body that streams straight from the caller's array (no copy) and can be replayed when a request is retried. */
    private static RequestBody body(byte[] data, int offset, int length) {
        return RequestBody.fromContentProvider(
                () -> new ByteArrayInputStream(data, offset, length), length, CONTENT_TYPE);
    }

    private void multipartPut(String key, String k, byte[] data, int offset, int length) throws IOException {
        long partSize = Math.max(settings.partSize(), ceilDiv(length, MAX_PARTS));
        int parts = (int) ceilDiv(length, partSize);
        CreateMultipartUploadRequest.Builder create = CreateMultipartUploadRequest.builder()
                .bucket(bucket)
                .key(k)
                .contentType(CONTENT_TYPE)
                .checksumAlgorithm(ChecksumAlgorithm.CRC32);
        if (settings.serverSideEncryption() != null) {
            create.serverSideEncryption(settings.serverSideEncryption()).ssekmsKeyId(settings.kmsKeyId());
        }
        if (settings.storageClass() != null) {
            create.storageClass(settings.storageClass());
        }
        if (lockMode() != null) {
            create.objectLockMode(lockMode()).objectLockRetainUntilDate(lockedUntil());
        }
        String uploadId = call("start multipart upload", key, () -> s3.createMultipartUpload(create.build()))
                .uploadId();
        try {
            List<CompletedPart> completed = new ArrayList<>(parts);
            try (ExecutorService pool = Executors.newFixedThreadPool(Math.min(parts, settings.uploadThreads()))) {
                List<Future<CompletedPart>> futures = new ArrayList<>(parts);
                for (int i = 0; i < parts; i++) {
                    int number = i + 1;
                    int from = offset + (int) (i * partSize);
                    int n = (int) Math.min(partSize, offset + length - from);
                    futures.add(pool.submit(() -> {
                        UploadPartResponse r = s3.uploadPart(
                                p -> p.bucket(bucket)
                                        .key(k)
                                        .uploadId(uploadId)
                                        .partNumber(number)
                                        .contentLength((long) n)
                                        .checksumAlgorithm(ChecksumAlgorithm.CRC32),
                                body(data, from, n));
                        return CompletedPart.builder()
                                .partNumber(number)
                                .eTag(r.eTag())
                                .checksumCRC32(r.checksumCRC32())
                                .build();
                    }));
                }
                for (Future<CompletedPart> f : futures) {
                    completed.add(f.get());
                }
            }
            // the object appears, whole, only when the upload completes
            call(
                    "complete multipart upload",
                    key,
                    () -> s3.completeMultipartUpload(
                            c -> c.bucket(bucket).key(k).uploadId(uploadId).multipartUpload(m -> m.parts(completed))));
        } catch (IOException | RuntimeException | ExecutionException | InterruptedException e) {
            try {
                s3.abortMultipartUpload(a -> a.bucket(bucket).key(k).uploadId(uploadId));
            } catch (SdkException abort) {
                e.addSuppressed(abort); // a bucket lifecycle rule for incomplete uploads cleans up what is left
            }
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            Throwable cause = e instanceof ExecutionException ee && ee.getCause() != null ? ee.getCause() : e;
            if (cause instanceof IOException io) {
                throw io;
            }
            throw failure("multipart put", key, cause);
        }
    }

    @Override
    public byte[] get(String key) throws IOException {
        String k = objectName(key);
        ResponseBytes<GetObjectResponse> bytes =
                call("get", key, () -> s3.getObjectAsBytes(g -> g.bucket(bucket).key(k)));
        return bytes.asByteArrayUnsafe();
    }

    @Override
    protected byte[] readRange(String key, long offset, int length) throws IOException {
        String k = objectName(key);
        try {
            // S3 answers a range that starts inside the object but ends past it with the bytes that exist
            return call(
                            "get range of",
                            key,
                            () -> s3.getObjectAsBytes(GetObjectRequest.builder()
                                    .bucket(bucket)
                                    .key(k)
                                    .range("bytes=" + offset + "-" + (offset + length - 1))
                                    .build()))
                    .asByteArrayUnsafe();
        } catch (IOException e) {
            if (e.getCause() instanceof S3Exception s && s.statusCode() == 416) {
                return new byte[0];
            }
            throw e;
        }
    }

    @Override
    public InputStream open(String key) throws IOException {
        String k = objectName(key);
        return call("open", key, () -> s3.getObject(g -> g.bucket(bucket).key(k)));
    }

    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        String k = objectName(key);
        try {
            HeadObjectResponse h =
                    call("stat", key, () -> s3.headObject(r -> r.bucket(bucket).key(k)));
            return Optional.of(new BlobInfo(key, h.contentLength(), h.lastModified()));
        } catch (BlobNotFoundException e) {
            return Optional.empty();
        }
    }

    @Override
    protected List<BlobInfo> listUnordered(String prefix) throws IOException {
        String full = objectNamePrefix(prefix);
        List<BlobInfo> out = new ArrayList<>();
        call("list", prefix, () -> {
            for (S3Object o : s3.listObjectsV2Paginator(l -> l.bucket(bucket).prefix(full))
                    .contents()) {
                out.add(new BlobInfo(keyOf(o.key()), o.size(), o.lastModified()));
            }
            return null;
        });
        return out;
    }

    @Override
    public void delete(String key) throws IOException {
        String k = objectName(key);
        // S3 answers 204 for a missing key too
        call("delete", key, () -> s3.deleteObject(d -> d.bucket(bucket).key(k)));
    }

    @Override
    public void close() {
        s3.close();
    }

    /** The Object Lock mode every upload carries, or null. */
    private String lockMode() {
        return settings.objectLock() == null ? null : settings.objectLock().mode();
    }

    private Instant lockedUntil() {
        return settings.objectLock().releasedAt(Instant.now());
    }

    /**
     * In the client's region (a location constraint outside us-east-1, as S3 asks for); for a write-once store with
     * Object Lock enabled (which turns on versioning).
     */
    @Override
    public boolean createContainer() throws IOException {
        try {
            s3.headBucket(h -> h.bucket(bucket));
            return false;
        } catch (S3Exception e) {
            if (e.statusCode() != 404) {
                throw failure("create bucket", bucket, e);
            }
        } catch (SdkException e) {
            throw failure("create bucket", bucket, e);
        }
        Region region = s3.serviceClientConfiguration().region();
        try {
            s3.createBucket(c -> {
                c.bucket(bucket);
                if (settings.objectLock() != null) {
                    c.objectLockEnabledForBucket(true);
                }
                if (region != null && !region.equals(Region.US_EAST_1)) {
                    c.createBucketConfiguration(b -> b.locationConstraint(region.id()));
                }
            });
            return true;
        } catch (BucketAlreadyOwnedByYouException e) {
            return false; // created meanwhile, by us
        } catch (SdkException e) {
            throw failure("create bucket", bucket, e);
        }
    }

    /** Runs one SDK call, turning its unchecked exceptions into the IOExceptions the interface promises. */
    private <T> T call(String what, String key, SdkCall<T> op) throws IOException {
        try {
            return op.run();
        } catch (NoSuchKeyException e) {
            throw notFound(key, e);
        } catch (S3Exception e) {
            // HEAD carries no error body, so a missing key is only a bare 404 there; other 404 codes (NoSuchBucket,
            // NoSuchUpload of a retried multipart completion, ...) are failures of the call, not a missing object
            String code = errorCode(e);
            if (e.statusCode() == 404
                    && (code == null
                            || code.isBlank()
                            || code.equals("NoSuchKey")
                            || code.equals("404")
                            || code.equals("Not Found"))) {
                throw notFound(key, e);
            }
            throw failure(what, key, e);
        } catch (SdkException e) {
            throw failure(what, key, e);
        }
    }

    private IOException failure(String what, String key, Throwable cause) {
        String detail = cause instanceof S3Exception s && errorCode(s) != null
                ? errorCode(s) + " (HTTP " + s.statusCode() + "): " + cause.getMessage()
                : cause.getMessage();
        return failure(what, key, detail, cause, isTransient(cause));
    }

    private static String errorCode(S3Exception e) {
        return e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
