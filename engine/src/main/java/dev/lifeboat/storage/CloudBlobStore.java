package dev.lifeboat.storage;

import java.io.EOFException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * What the object-store backends ({@code s3/}, {@code azure/}, {@code gcs/}) share: where the store is (a bucket or
 * container, and a key prefix inside it) and so its URI, how keys map to object names and back, the rules around a
 * range read and the order of a listing, and how a failed call is reported (a {@link BlobNotFoundException}, or a
 * {@link TransientStoreException} or a plain {@link IOException} with one form of message). Each backend keeps what
 * is its SDK's own: the client, its one-attempt retry setting, and which of the SDK's errors mean "not found",
 * "exists" or "try again".
 */
public abstract class CloudBlobStore implements BlobStore {
    /** The content type objects are stored with, where the service asks for one. */
    protected static final String CONTENT_TYPE = "application/octet-stream";

    /**
     * Attempts the SDK client makes per request: one. The store stack's retry layer ({@code BlobStores}) makes any
     * further ones, the same way for every backend, so an SDK's own retries would only multiply them.
     */
    protected static final int ATTEMPTS_PER_REQUEST = 1;

    private final String service;
    private final String scheme;
    private final String container;
    private final String root;

    /**
     * @param service   the name in messages, e.g. {@code S3}
     * @param scheme    the URI scheme, e.g. {@code s3}
     * @param kind      what the service calls a container, e.g. {@code bucket}
     * @param container the bucket or container (the URI's authority)
     * @param path      the key prefix inside it (the URI's path; may be empty)
     */
    protected CloudBlobStore(String service, String scheme, String kind, String container, String path) {
        if (container == null || container.isEmpty()) {
            throw new IllegalArgumentException(
                    service + " repository URI needs a " + kind + ": " + scheme + "://" + kind + "/prefix");
        }
        this.service = service;
        this.scheme = scheme;
        this.container = container;
        this.root = BlobKeys.rootPrefix(path);
    }

    /** The name of the object that holds {@code key}: the prefix, then the key. */
    protected final String objectName(String key) {
        return root + BlobKeys.requireValid(key);
    }

    /** The object-name prefix that lists the keys starting with {@code prefix}. */
    protected final String objectNamePrefix(String prefix) {
        return root + BlobKeys.requireValidPrefix(prefix);
    }

    /** The key of a listed object, from its name. */
    protected final String keyOf(String objectName) {
        return objectName.substring(root.length());
    }

    @Override
    public final String uri() {
        return scheme + "://" + container + (root.isEmpty() ? "" : "/" + root.substring(0, root.length() - 1));
    }

    /**
     * Checks the range, answers an empty one from {@link #stat} (a missing object is still missing), and turns a
     * short answer from {@link #readRange} into an {@link EOFException}.
     */
    @Override
    public final byte[] getRange(String key, long offset, int length) throws IOException {
        BlobKeys.requireValid(key);
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("negative offset or length");
        }
        if (length == 0) {
            if (stat(key).isEmpty()) {
                throw new BlobNotFoundException(uri(), key);
            }
            return new byte[0];
        }
        byte[] out = readRange(key, offset, length);
        if (out.length != length) {
            throw new EOFException(
                    "object " + key + " in " + uri() + " is shorter than " + (offset + length) + " bytes");
        }
        return out;
    }

    /**
     * The bytes of a range of at least one byte, as far as the object has them: fewer, or none (a range that starts
     * past the end, which the services answer with HTTP 416), when it ends first.
     */
    protected abstract byte[] readRange(String key, long offset, int length) throws IOException;

    /** The services list in UTF-8 byte order; sorted as Strings, so every backend returns the same order. */
    @Override
    public final List<BlobInfo> list(String prefix) throws IOException {
        List<BlobInfo> out = new ArrayList<>(listUnordered(prefix));
        out.sort(Comparator.comparing(BlobInfo::key));
        return out;
    }

    /** Every object whose key starts with {@code prefix}, in any order. */
    protected abstract List<BlobInfo> listUnordered(String prefix) throws IOException;

    /** {@code key} is missing; {@code cause} is the SDK's answer that says so. */
    protected final BlobNotFoundException notFound(String key, Throwable cause) {
        BlobNotFoundException e = new BlobNotFoundException(uri(), key);
        e.initCause(cause);
        return e;
    }

    /**
     * A failed call, as "{@code <service> <what> <key> in <uri> failed: <detail>}": a {@link TransientStoreException}
     * when {@code again} (the retry layer may try once more), else a plain {@link IOException}.
     */
    protected final IOException failure(String what, String key, String detail, Throwable cause, boolean again) {
        String message = service + " " + what + " " + key + " in " + uri() + " failed: " + detail;
        return again ? new TransientStoreException(message, cause) : new IOException(message, cause);
    }

    /** One SDK call, for a backend's wrapper that turns the SDK's unchecked exceptions into IOExceptions. */
    @FunctionalInterface
    protected interface SdkCall<T> {
        T run() throws IOException;
    }
}
