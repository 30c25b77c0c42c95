package dev.lifeboat.storage.azure;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import com.azure.core.credential.TokenCredential;
import com.azure.core.exception.ClientAuthenticationException;
import com.azure.core.http.HttpClient;
import com.azure.core.http.jdk.httpclient.JdkHttpClientBuilder;
import com.azure.core.http.policy.FixedDelay;
import com.azure.core.http.policy.RetryPolicy;
import com.azure.core.util.BinaryData;
import com.azure.core.util.Context;
import com.azure.identity.ChainedTokenCredentialBuilder;
import com.azure.identity.EnvironmentCredentialBuilder;
import com.azure.identity.ManagedIdentityCredentialBuilder;
import com.azure.identity.WorkloadIdentityCredentialBuilder;
import com.azure.storage.blob.BlobClient;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.models.BlobErrorCode;
import com.azure.storage.blob.models.BlobItem;
import com.azure.storage.blob.models.BlobProperties;
import com.azure.storage.blob.models.BlobRange;
import com.azure.storage.blob.models.BlobRequestConditions;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.models.DownloadRetryOptions;
import com.azure.storage.blob.models.ListBlobsOptions;
import com.azure.storage.blob.models.ParallelTransferOptions;
import com.azure.storage.blob.options.BlobParallelUploadOptions;
import com.azure.storage.common.StorageSharedKeyCredential;
import com.azure.storage.common.policy.RequestRetryOptions;
import com.azure.storage.common.policy.RetryPolicyType;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.CloudBlobStore;
import dev.lifeboat.storage.TransientStoreException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.LoggerFactory;

/**
 * A store in an Azure Blob container under an optional prefix ({@code azure://container/prefix}), as block blobs. A Put
 * Blob, or the Put Block List that commits a larger object's blocks, makes the whole object visible at once and returns
 * once it is durable. {@link #putIfAbsent} sends {@code If-None-Match: *}, which Azure checks where it commits the
 * blob.
 */
public final class AzureBlobStore extends CloudBlobStore {
    static {
        // The SDK sets Content-Length, which java.net.http computes itself and forbids callers to set: the Azure JDK
        // client drops the header and warns on every request. Quiet that logger unless the logging config names it.
        if (LoggerFactory.getLogger("com.azure.core.http.jdk.httpclient") instanceof Logger l && l.getLevel() == null) {
            l.setLevel(Level.ERROR);
        }
    }

    /**
     * One more try of a token request, soon: the store stack retries the operation itself, and the identity library
     * has its own retries for a managed identity's transient answers.
     */
    private static final RetryPolicy IDENTITY_RETRY = new RetryPolicy(new FixedDelay(1, Duration.ofMillis(200)));

    private final BlobContainerClient container;
    private final AzureSettings settings;

    public AzureBlobStore(String containerName, String prefix, AzureSettings settings) {
        super("Azure", "azure", "container", containerName, prefix);
        this.settings = settings;
        this.container = client(settings).getBlobContainerClient(containerName);
    }

    /** {@code azure://container} or {@code azure://container/some/prefix}. */
    public static AzureBlobStore open(URI uri, AzureSettings settings) {
        return new AzureBlobStore(uri.getAuthority(), uri.getPath(), settings);
    }

    private static BlobServiceClient client(AzureSettings s) {
        // the JDK's HTTP client: no Netty on the class path (see the pom)
        HttpClient http = new JdkHttpClientBuilder()
                .responseTimeout(s.timeout())
                .readTimeout(s.timeout())
                .build();
        BlobServiceClientBuilder b = new BlobServiceClientBuilder()
                .httpClient(http)
                // one try per request: the retry layer of the store stack (BlobStores) makes further attempts
                .retryOptions(new RequestRetryOptions(
                        RetryPolicyType.EXPONENTIAL, ATTEMPTS_PER_REQUEST, (Integer) null, null, null, null))
                .addPolicy(new TransientAnswerPolicy());
        if (s.connectionString() != null) {
            b.connectionString(s.connectionString());
        } else if (s.accountKey() != null) {
            b.credential(new StorageSharedKeyCredential(s.accountName(), s.accountKey()));
        } else if (s.sasToken() != null) {
            b.sasToken(s.sasToken());
        } else {
            b.credential(entraIdCredential(s.entraId(), http));
        }
        String endpoint = s.effectiveEndpoint();
        if (endpoint != null) {
            b.endpoint(endpoint);
        }
        return b.buildClient();
    }

    /**
     * The host's identity, as {@link AzureSettings.EntraId} describes it: production credentials only (no developer
     * logins), through the store's HTTP client and timeouts, with few retries, so that a host without an identity
     * fails in seconds rather than waiting on an instance metadata service that never answers.
     */
    private static TokenCredential entraIdCredential(AzureSettings.EntraId id, HttpClient http) {
        ManagedIdentityCredentialBuilder managed =
                new ManagedIdentityCredentialBuilder().httpClient(http).retryPolicy(IDENTITY_RETRY);
        if (id.managedIdentityClientId() != null) {
            return managed.clientId(id.managedIdentityClientId()).build();
        }
        String userAssigned = System.getenv("AZURE_CLIENT_ID");
        if (userAssigned != null && !userAssigned.isBlank()) {
            managed.clientId(userAssigned);
        }
        ChainedTokenCredentialBuilder chain = new ChainedTokenCredentialBuilder()
                .addLast(new EnvironmentCredentialBuilder()
                        .httpClient(http)
                        .retryPolicy(IDENTITY_RETRY)
                        .build());
        if (System.getenv("AZURE_FEDERATED_TOKEN_FILE") != null) {
            chain.addLast(new WorkloadIdentityCredentialBuilder()
                    .httpClient(http)
                    .retryPolicy(IDENTITY_RETRY)
                    .build());
        }
        return chain.addLast(managed.build()).build();
    }

    private BlobClient blob(String key) {
        return container.getBlobClient(objectName(key));
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, data.length);
        upload("put", key, data, offset, length, null);
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        try {
            upload("put-if-absent", key, data, 0, data.length, new BlobRequestConditions().setIfNoneMatch("*"));
            return true;
        } catch (IOException e) {
            // 409 BlobAlreadyExists from Put Blob, 412 ConditionNotMet from Put Block List; a retried request whose
            // first try did succeed lands here too, which the stored bytes tell apart
            if (e.getCause() instanceof BlobStorageException s
                    && (s.getStatusCode() == 409 || s.getStatusCode() == 412)
                    && s.getErrorCode() != BlobErrorCode.CONTAINER_NOT_FOUND) {
                return holdsExactly(key, data);
            }
            throw e;
        }
    }

    private void upload(String what, String key, byte[] data, int offset, int length, BlobRequestConditions conditions)
            throws IOException {
        BlobClient b = blob(key);
        // slice() so the content starts at position 0; Azure reads it without copying and can replay it on a retry
        BinaryData content =
                BinaryData.fromByteBuffer(ByteBuffer.wrap(data, offset, length).slice());
        BlobParallelUploadOptions options = new BlobParallelUploadOptions(content)
                .setParallelTransferOptions(new ParallelTransferOptions()
                        .setMaxSingleUploadSizeLong(settings.maxSingleUploadSize())
                        .setBlockSizeLong(settings.blockSize())
                        .setMaxConcurrency(settings.uploadThreads()))
                .setRequestConditions(conditions);
        call(what, key, () -> b.uploadWithResponse(options, null, Context.NONE));
    }

    /**
     * A download cut off mid-body is not resumed inside the SDK (by default up to 5 times, each after its own
     * timeout): the store stack's retry layer repeats the whole read, within its attempts and budget.
     */
    private static final DownloadRetryOptions NO_RESUME = new DownloadRetryOptions().setMaxRetryRequests(0);

    @Override
    public byte[] get(String key) throws IOException {
        BlobClient b = blob(key);
        return call(
                "get",
                key,
                () -> b.downloadContentWithResponse(NO_RESUME, null, null, Context.NONE)
                        .getValue()
                        .toBytes());
    }

    @Override
    protected byte[] readRange(String key, long offset, int length) throws IOException {
        BlobClient b = blob(key);
        ByteArrayOutputStream out = new ByteArrayOutputStream(length);
        try {
            // Azure answers a range that starts inside the blob but ends past it with the bytes that exist
            call(
                    "get range of",
                    key,
                    () -> b.downloadStreamWithResponse(
                            out, new BlobRange(offset, (long) length), NO_RESUME, null, false, null, Context.NONE));
        } catch (IOException e) {
            if (!(e.getCause() instanceof BlobStorageException s && s.getStatusCode() == 416)) {
                throw e;
            }
        }
        return out.toByteArray();
    }

    @Override
    public InputStream open(String key) throws IOException {
        BlobClient b = blob(key);
        return call("open", key, b::openInputStream);
    }

    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        BlobClient b = blob(key);
        try {
            BlobProperties p = call("stat", key, b::getProperties);
            return Optional.of(
                    new BlobInfo(key, p.getBlobSize(), p.getLastModified().toInstant()));
        } catch (BlobNotFoundException e) {
            return Optional.empty();
        }
    }

    @Override
    protected List<BlobInfo> listUnordered(String prefix) throws IOException {
        String full = objectNamePrefix(prefix);
        List<BlobInfo> out = new ArrayList<>();
        call("list", prefix, () -> {
            for (BlobItem item :
                    container.listBlobs(new ListBlobsOptions().setPrefix(full).setMaxResultsPerPage(1000), null)) {
                if (Boolean.TRUE.equals(item.isPrefix())) {
                    continue;
                }
                out.add(new BlobInfo(
                        keyOf(item.getName()),
                        item.getProperties().getContentLength(),
                        item.getProperties().getLastModified().toInstant()));
            }
            return null;
        });
        return out;
    }

    @Override
    public void delete(String key) throws IOException {
        BlobClient b = blob(key);
        call("delete", key, b::deleteIfExists);
    }

    private static TransientAnswerPolicy.TransientAnswer transientAnswer(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof TransientAnswerPolicy.TransientAnswer a) {
                return a;
            }
            for (Throwable s : c.getSuppressed()) {
                if (s instanceof TransientAnswerPolicy.TransientAnswer a) {
                    return a;
                }
            }
        }
        return null;
    }

    @Override
    public boolean createContainer() throws IOException {
        return call("create container", container.getBlobContainerName(), container::createIfNotExists);
    }

    /** Runs one SDK call, turning its unchecked exceptions into the IOExceptions the interface promises. */
    private <T> T call(String what, String key, SdkCall<T> op) throws IOException {
        try {
            return op.run();
        } catch (BlobStorageException e) {
            // a missing container is a configuration error, not a missing object
            if (e.getStatusCode() == 404 && e.getErrorCode() != BlobErrorCode.CONTAINER_NOT_FOUND) {
                throw notFound(key, e);
            }
            String code = e.getErrorCode() == null ? "" : e.getErrorCode() + " ";
            String detail = code + "(HTTP " + e.getStatusCode() + "): " + e.getServiceMessage();
            throw failure(what, key, detail, e, TransientStoreException.transientStatus(e.getStatusCode()));
        } catch (RuntimeException e) {
            ClientAuthenticationException noToken = causeOf(e, ClientAuthenticationException.class);
            if (noToken != null && settings.usesEntraId()) {
                // not worth another try: the host has no identity, or not this one
                throw failure(
                        what,
                        key,
                        "no Entra ID token for this host (auth entra-id): "
                                + firstLine(noToken.getMessage())
                                + rootCause(noToken)
                                + "; check its managed identity (a VM's, or IDENTITY_ENDPOINT), workload identity "
                                + "(AZURE_FEDERATED_TOKEN_FILE) or AZURE_CLIENT_ID/AZURE_TENANT_ID/"
                                + "AZURE_CLIENT_SECRET, or give a key or SAS instead",
                        noToken,
                        false);
            }
            TransientAnswerPolicy.TransientAnswer answer = transientAnswer(e);
            if (answer != null) {
                throw failure(what, key, answer.getMessage(), answer, true);
            }
            Throwable cause = e.getCause() instanceof IOException io ? io : e;
            // a broken, stalled or timed-out connection is worth another try
            throw failure(
                    what,
                    key,
                    cause == e ? e.toString() : cause.getMessage(),
                    cause,
                    TransientStoreException.causedByConnection(e));
        }
    }

    private static <T extends Throwable> T causeOf(Throwable e, Class<T> type) {
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        return null;
    }

    /** " (the innermost cause's message)", which the identity library's own message only points to. */
    private static String rootCause(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root == e ? "" : " (" + firstLine(root.getMessage()) + ")";
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "(no message)";
        }
        int nl = message.indexOf('\n');
        return (nl < 0 ? message : message.substring(0, nl)).strip();
    }
}
