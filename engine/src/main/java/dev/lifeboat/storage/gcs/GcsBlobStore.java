package dev.lifeboat.storage.gcs;

import com.google.api.gax.paging.Page;
import com.google.api.gax.retrying.RetrySettings;
import com.google.cloud.ReadChannel;
import com.google.cloud.WriteChannel;
import com.google.cloud.http.HttpTransportOptions;
import com.google.cloud.storage.Blob;
import com.google.cloud.storage.BlobId;
import com.google.cloud.storage.BucketInfo;
import com.google.cloud.storage.Storage;
import com.google.cloud.storage.StorageException;
import com.google.cloud.storage.StorageOptions;
import com.google.cloud.storage.StorageRetryStrategy;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.CloudBlobStore;
import dev.lifeboat.storage.TransientStoreException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * A store in a Google Cloud Storage bucket under an optional prefix ({@code gs://bucket/prefix}), over the JSON API.
 * Small objects are one multipart upload, larger ones a resumable upload in chunks; either way the object appears
 * whole,
 * only once the last request succeeds, and GCS acknowledges it only once it is durable. Each upload carries the CRC32C
 * of
 * its content, which GCS checks before it makes the object visible. {@link #putIfAbsent} sends the precondition
 * {@code ifGenerationMatch=0} ("no live object has this name"), which GCS decides atomically.
 */
public final class GcsBlobStore extends CloudBlobStore {
    private final Storage storage;
    private final String bucket;
    private final GcsSettings settings;

    public GcsBlobStore(String bucket, String prefix, GcsSettings settings) {
        super("GCS", "gs", "bucket", bucket, prefix);
        this.bucket = bucket;
        this.settings = settings;
        this.storage = client(settings);
    }

    /** {@code gs://bucket} or {@code gs://bucket/some/prefix}. */
    public static GcsBlobStore open(URI uri, GcsSettings settings) {
        return new GcsBlobStore(uri.getAuthority(), uri.getPath(), settings);
    }

    private static Storage client(GcsSettings s) {
        int timeoutMillis = (int) Math.min(Integer.MAX_VALUE, s.timeout().toMillis());
        StorageOptions.Builder b = StorageOptions.http()
                .setTransportOptions(HttpTransportOptions.newBuilder()
                        .setConnectTimeout(timeoutMillis)
                        .setReadTimeout(timeoutMillis)
                        .build())
                // gax backs off exponentially and always adds jitter
                .setRetrySettings(RetrySettings.newBuilder()
                        // one attempt per request: the retry layer of the store stack (BlobStores) makes further ones
                        .setMaxAttempts(ATTEMPTS_PER_REQUEST)
                        .setInitialRetryDelayDuration(Duration.ofMillis(200))
                        .setRetryDelayMultiplier(2.0)
                        .setMaxRetryDelayDuration(Duration.ofSeconds(20))
                        .setInitialRpcTimeoutDuration(s.timeout())
                        .setRpcTimeoutMultiplier(1.0)
                        .setMaxRpcTimeoutDuration(s.timeout())
                        .setTotalTimeoutDuration(s.timeout().plus(Duration.ofMinutes(2)))
                        .build())
                .setStorageRetryStrategy(StorageRetryStrategy.getUniformStorageRetryStrategy());
        if (s.endpoint() != null) {
            b.setHost(s.endpoint());
        }
        if (s.projectId() != null) {
            b.setProjectId(s.projectId());
        }
        if (s.credentials() != null) {
            b.setCredentials(s.credentials());
        }
        return b.build().getService();
    }

    private BlobId blobId(String key) {
        return BlobId.of(bucket, objectName(key));
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, data.length);
        upload("put", key, data, offset, length, false);
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        try {
            upload("put-if-absent", key, data, 0, data.length, true);
            return true;
        } catch (IOException e) {
            if (e.getCause() instanceof StorageException s && s.getCode() == 412) {
                return holdsExactly(key, data); // our own first attempt, if its answer was lost and retried
            }
            throw e;
        }
    }

    private void upload(String what, String key, byte[] data, int offset, int length, boolean ifAbsent)
            throws IOException {
        BlobId id = blobId(key);
        CRC32C crc = new CRC32C();
        crc.update(data, offset, length);
        // BlobInfo.newBuilder through its subclass: our own BlobInfo takes the simple name here
        var info = Blob.newBuilder(id)
                .setContentType(CONTENT_TYPE)
                .setCrc32c(Base64.getEncoder()
                        .encodeToString(ByteBuffer.allocate(4)
                                .putInt((int) crc.getValue())
                                .array()))
                .build();
        if (length <= settings.resumableThreshold() && settings.resumableThreshold() > 0) {
            // the CRC32C goes in the object resource of the request, which GCS checks
            List<Storage.BlobTargetOption> options = new ArrayList<>();
            if (ifAbsent) {
                options.add(Storage.BlobTargetOption.doesNotExist());
            }
            call(
                    what,
                    key,
                    () -> storage.create(info, data, offset, length, options.toArray(Storage.BlobTargetOption[]::new)));
            return;
        }
        List<Storage.BlobWriteOption> options = new ArrayList<>(List.of(Storage.BlobWriteOption.crc32cMatch()));
        if (ifAbsent) {
            options.add(Storage.BlobWriteOption.doesNotExist());
        }
        // a resumable upload: the object appears only when the last chunk is accepted; an abandoned session leaves
        // nothing
        call(what, key, () -> {
            try (WriteChannel w = storage.writer(info, options.toArray(Storage.BlobWriteOption[]::new))) {
                w.setChunkSize(settings.chunkSize());
                ByteBuffer buf = ByteBuffer.wrap(data, offset, length);
                while (buf.hasRemaining()) {
                    w.write(buf);
                }
            }
            return null;
        });
    }

    @Override
    public byte[] get(String key) throws IOException {
        BlobId id = blobId(key);
        return call("get", key, () -> storage.readAllBytes(id));
    }

    @Override
    protected byte[] readRange(String key, long offset, int length) throws IOException {
        BlobId id = blobId(key);
        ByteBuffer out = ByteBuffer.allocate(length);
        try {
            read(key, id, offset, out);
        } catch (IOException e) {
            // GCS answers 416 for a range that starts at or past the end (the client usually reports that as the end)
            if (!(e.getCause() instanceof StorageException s && s.getCode() == 416)) {
                throw e;
            }
        }
        return out.hasRemaining() ? Arrays.copyOf(out.array(), out.position()) : out.array();
    }

    private void read(String key, BlobId id, long offset, ByteBuffer out) throws IOException {
        int length = out.remaining();
        call("get range of", key, () -> {
            try (ReadChannel r = storage.reader(id)) {
                r.setChunkSize(0); // no read-ahead past the range: one request for exactly these bytes
                r.seek(offset);
                r.limit(offset + length);
                while (out.hasRemaining()) {
                    if (r.read(out) < 0) {
                        break;
                    }
                }
            }
            return null;
        });
    }

    @Override
    public InputStream open(String key) throws IOException {
        BlobId id = blobId(key);
        Blob blob = call("open", key, () -> storage.get(id));
        if (blob == null) {
            throw new BlobNotFoundException(uri(), key);
        }
        // read the generation just looked at, so a concurrent overwrite cannot mix two versions into one stream
        BlobId generation = BlobId.of(bucket, id.getName(), blob.getGeneration());
        ReadChannel r = call("open", key, () -> storage.reader(generation));
        return Channels.newInputStream(r);
    }

    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        BlobId id = blobId(key);
        Blob blob = call("stat", key, () -> storage.get(id));
        return blob == null ? Optional.empty() : Optional.of(info(key, blob));
    }

    private static BlobInfo info(String key, Blob blob) {
        return new BlobInfo(
                key,
                blob.getSize() == null ? 0 : blob.getSize(),
                blob.getUpdateTimeOffsetDateTime() == null
                        ? null
                        : blob.getUpdateTimeOffsetDateTime().toInstant());
    }

    @Override
    protected List<BlobInfo> listUnordered(String prefix) throws IOException {
        String full = objectNamePrefix(prefix);
        List<BlobInfo> out = new ArrayList<>();
        call("list", prefix, () -> {
            Page<Blob> page =
                    storage.list(bucket, Storage.BlobListOption.prefix(full), Storage.BlobListOption.pageSize(1000));
            for (Blob b : page.iterateAll()) {
                out.add(info(keyOf(b.getName()), b));
            }
            return null;
        });
        return out;
    }

    @Override
    public void delete(String key) throws IOException {
        BlobId id = blobId(key);
        // false (not an error) when the object is missing
        call("delete", key, () -> storage.delete(id));
    }

    @Override
    public void close() throws IOException {
        try {
            storage.close();
        } catch (Exception e) {
            throw new IOException("closing the GCS client of " + uri() + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * In the project's default location and storage class; for a write-once store with a retention policy of its
     * days (which only the bucket's owner can lock: a locked policy can never be shortened or removed).
     */
    @Override
    public boolean createContainer() throws IOException {
        if (call("create bucket", bucket, () -> storage.get(bucket)) != null) {
            return false;
        }
        BucketInfo.Builder info = BucketInfo.newBuilder(bucket);
        if (settings.retention() != null) {
            info.setRetentionPeriodDuration(settings.retention().period());
        }
        try {
            call("create bucket", bucket, () -> storage.create(info.build()));
            return true;
        } catch (IOException e) {
            if (e.getCause() instanceof StorageException s && s.getCode() == 409) {
                return false; // created meanwhile
            }
            throw e;
        }
    }

    /** Runs one client call, turning its unchecked exceptions into the IOExceptions the interface promises. */
    private <T> T call(String what, String key, SdkCall<T> op) throws IOException {
        try {
            return op.run();
        } catch (StorageException e) {
            throw translate(what, key, e);
        } catch (IOException e) {
            if (e.getCause() instanceof StorageException s) {
                throw translate(what, key, s);
            }
            throw failure(what, key, e.getMessage(), e, true);
        } catch (RuntimeException e) {
            Throwable cause = e.getCause() instanceof StorageException s ? s : e;
            if (cause instanceof StorageException s) {
                throw translate(what, key, s);
            }
            throw failure(what, key, e.toString(), e, TransientStoreException.causedByConnection(e));
        }
    }

    private IOException translate(String what, String key, StorageException e) {
        String message = e.getMessage() == null ? "" : e.getMessage();
        // a missing bucket is a configuration error, not a missing object; GCS says "The specified bucket does not
        // exist." for it, and "No such object: <bucket>/<name>" for an object, so the bucket's name is no clue
        String lower = message.toLowerCase(Locale.ROOT);
        boolean noBucket = lower.contains("bucket does not exist") || lower.contains("no such bucket");
        if (e.getCode() == 404 && !noBucket) {
            return notFound(key, e);
        }
        String reason = e.getReason() == null ? "" : e.getReason() + " ";
        // code 0: no HTTP answer at all (the connection broke or timed out)
        boolean again = e.getCode() == 0
                || TransientStoreException.transientStatus(e.getCode())
                || TransientStoreException.causedByConnection(e.getCause());
        return failure(what, key, reason + "(HTTP " + e.getCode() + "): " + message, e, again);
    }
}
