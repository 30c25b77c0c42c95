package dev.lifeboat.storage.azure;

import static dev.lifeboat.storage.CloudSettings.blankToNull;

import dev.lifeboat.storage.CloudSettings;
import dev.lifeboat.storage.StoreConfig;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * How to reach Azure Blob Storage (or Azurite). Exactly one way to authenticate is used, in this order: a connection
 * string, an account name with its key, a SAS token, and without any of them an Entra ID token from the SDK's default
 * credential chain (managed identity, workload identity, a service principal in {@code AZURE_CLIENT_ID},
 * {@code AZURE_TENANT_ID} and {@code AZURE_CLIENT_SECRET}, the Azure CLI's login), so no secret needs to be stored.
 * The identity needs a data role on the container (Storage Blob Data Contributor to write, Reader to restore).
 *
 * @param endpoint           the account's blob endpoint, e.g. {@code https://acct.blob.core.windows.net}; when null it comes
 *                           from the connection string or is derived from the account name
 * @param connectionString   a storage connection string (it carries the endpoint and the key or a SAS)
 * @param accountName        the storage account, with {@code accountKey}
 * @param accountKey         the account's shared key
 * @param sasToken           a SAS token with read, write, delete, list and create rights on the container
 * @param maxSingleUploadSize objects up to this size are one Put Blob; larger ones are uploaded as blocks
 * @param blockSize          size of each block of a larger object
 * @param uploadThreads      blocks of one object uploaded at once
 * @param maxTries           attempts per operation, the first included, made by the store stack's retry layer
 *                           (the SDK client itself makes one try per request)
 * @param timeout            how long one try waits for the response to start and between bytes of it
 */
public record AzureSettings(
        String endpoint,
        String connectionString,
        String accountName,
        String accountKey,
        String sasToken,
        long maxSingleUploadSize,
        long blockSize,
        int uploadThreads,
        int maxTries,
        Duration timeout) {

    public static final long DEFAULT_MAX_SINGLE_UPLOAD_SIZE = 64L << 20;
    public static final long DEFAULT_BLOCK_SIZE = 16L << 20;
    public static final int DEFAULT_UPLOAD_THREADS = 4;
    public static final int DEFAULT_MAX_TRIES = CloudSettings.DEFAULT_MAX_ATTEMPTS;
    public static final Duration DEFAULT_TIMEOUT = CloudSettings.DEFAULT_REQUEST_TIMEOUT;

    public AzureSettings {
        endpoint = blankToNull(endpoint);
        connectionString = blankToNull(connectionString);
        accountName = blankToNull(accountName);
        accountKey = blankToNull(accountKey);
        sasToken = blankToNull(sasToken);
        if (accountKey != null && accountName == null) {
            throw new IllegalArgumentException("an Azure account key needs the account name (AZURE_STORAGE_ACCOUNT)");
        }
        if (connectionString == null && endpoint == null && accountName == null) {
            throw new IllegalArgumentException("Azure Blob needs an endpoint (LIFEBOAT_AZURE_ENDPOINT) or an account "
                    + "name (AZURE_STORAGE_ACCOUNT), and credentials: AZURE_STORAGE_CONNECTION_STRING, or "
                    + "AZURE_STORAGE_KEY, or AZURE_STORAGE_SAS_TOKEN, or none of them for an Entra ID identity "
                    + "(managed identity, workload identity, AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, az login)");
        }
        if (endpoint != null) {
            requireAccountPath(endpoint, accountName);
        }
        // the parameters, not usesEntraId(): the fields are assigned only after this body
        boolean entraId = connectionString == null && accountKey == null && sasToken == null;
        if (entraId && endpoint != null && !endpoint.regionMatches(true, 0, "https://", 0, 8)) {
            throw new IllegalArgumentException("Azure endpoint " + endpoint + " is not https, and with no key, SAS "
                    + "or connection string the credentials are an Entra ID token, which is sent only over https: "
                    + "give an https endpoint, or a key or SAS");
        }
        if (maxSingleUploadSize < 1
                || blockSize < 1
                || uploadThreads < 1
                || maxTries < 1
                || !CloudSettings.isPositive(timeout)) {
            throw new IllegalArgumentException("Azure upload sizes, threads, tries and timeout must be positive");
        }
    }

    /** Reads {@code LIFEBOAT_AZURE_ENDPOINT}, {@code AZURE_STORAGE_CONNECTION_STRING}, {@code AZURE_STORAGE_ACCOUNT},
     * {@code AZURE_STORAGE_KEY} and {@code AZURE_STORAGE_SAS_TOKEN}. */
    public static AzureSettings fromEnvironment(Map<String, String> env) {
        return withDefaults(
                env.get("LIFEBOAT_AZURE_ENDPOINT"),
                env.get("AZURE_STORAGE_CONNECTION_STRING"),
                env.get("AZURE_STORAGE_ACCOUNT"),
                env.get("AZURE_STORAGE_KEY"),
                env.get("AZURE_STORAGE_SAS_TOKEN"));
    }

    /** Whether requests carry an Entra ID token from the default chain (no key, SAS or connection string). */
    public boolean usesEntraId() {
        return connectionString == null && accountKey == null && sasToken == null;
    }

    /** The settings a {@link StoreConfig} may name for Azure Blob. */
    public static final Set<String> CONFIG_KEYS =
            Set.of("endpoint", "account", "accountKey", "sasToken", "connectionString");

    /**
     * A store's own settings (a replication region's): nothing comes from this process's {@code AZURE_STORAGE_*}
     * variables. {@code accountKey}, {@code sasToken} and {@code connectionString} are secrets ({@code env:} or
     * {@code file:}); with none of them, the region's identity is the host's Entra ID one (the default chain: on a
     * host whose environment holds a service principal for the primary, give this region a key or SAS).
     */
    public static AzureSettings fromConfig(StoreConfig c) {
        c.allowOnly("Azure", CONFIG_KEYS);
        String connectionString = c.secret("connectionString");
        String accountKey = c.secret("accountKey");
        String sasToken = c.secret("sasToken");
        try {
            return withDefaults(c.get("endpoint"), connectionString, c.get("account"), accountKey, sasToken);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(c.owner() + ": " + e.getMessage(), e);
        }
    }

    public static AzureSettings sharedKey(String endpoint, String accountName, String accountKey) {
        return withDefaults(endpoint, null, accountName, accountKey, null);
    }

    /** A SAS token's settings (e.g. one that may read and list only, for a restore host). */
    public static AzureSettings sas(String endpoint, String sasToken) {
        return withDefaults(endpoint, null, null, null, sasToken);
    }

    /** Where and how to authenticate, with the default upload sizes, tries and timeout. */
    private static AzureSettings withDefaults(
            String endpoint, String connectionString, String accountName, String accountKey, String sasToken) {
        return new AzureSettings(
                endpoint,
                connectionString,
                accountName,
                accountKey,
                sasToken,
                DEFAULT_MAX_SINGLE_UPLOAD_SIZE,
                DEFAULT_BLOCK_SIZE,
                DEFAULT_UPLOAD_THREADS,
                DEFAULT_MAX_TRIES,
                DEFAULT_TIMEOUT);
    }

    /** The fields of a copy being made: each with-method sets what it changes, {@link #copy} builds (and checks) it. */
    private static final class Copy {
        long maxSingleUploadSize;
        long blockSize;
        int uploadThreads;
        int maxTries;
        Duration timeout;

        Copy(AzureSettings s) {
            maxSingleUploadSize = s.maxSingleUploadSize;
            blockSize = s.blockSize;
            uploadThreads = s.uploadThreads;
            maxTries = s.maxTries;
            timeout = s.timeout;
        }
    }

    /** These settings (the same endpoint and credentials) with what {@code change} sets. */
    private AzureSettings copy(Consumer<Copy> change) {
        Copy c = new Copy(this);
        change.accept(c);
        return new AzureSettings(
                endpoint,
                connectionString,
                accountName,
                accountKey,
                sasToken,
                c.maxSingleUploadSize,
                c.blockSize,
                c.uploadThreads,
                c.maxTries,
                c.timeout);
    }

    public AzureSettings withUploads(long maxSingleUploadSize, long blockSize, int uploadThreads) {
        return copy(c -> {
            c.maxSingleUploadSize = maxSingleUploadSize;
            c.blockSize = blockSize;
            c.uploadThreads = uploadThreads;
        });
    }

    /** A shorter per-try timeout (tests that make a server stall). */
    public AzureSettings withTimeout(Duration timeout) {
        return copy(c -> c.timeout = timeout);
    }

    public AzureSettings withMaxTries(int maxTries) {
        return copy(c -> c.maxTries = maxTries);
    }

    /**
     * An endpoint reached by address (Azurite's {@code http://127.0.0.1:10000}, an emulator, a proxy) names the account
     * in its path; without it every request fails with an answer that does not say why.
     */
    static void requireAccountPath(String endpoint, String accountName) {
        URI uri;
        try {
            uri = new URI(endpoint);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("Azure endpoint '" + endpoint + "' is not a URL: " + e.getMessage());
        }
        String host = uri.getHost();
        if (uri.getScheme() == null || host == null) {
            throw new IllegalArgumentException("Azure endpoint '" + endpoint
                    + "' is not a URL with a host, e.g. https://ACCOUNT.blob.core.windows.net");
        }
        boolean byAddress = host.equals("localhost") || host.matches("[0-9.]+") || host.startsWith("[");
        String path = uri.getPath() == null ? "" : uri.getPath().replaceAll("/+$", "");
        if (byAddress && path.isEmpty()) {
            throw new IllegalArgumentException("Azure endpoint " + endpoint + " names no storage account: an endpoint "
                    + "reached by address (Azurite, an emulator, a proxy) takes the account as its path, e.g. "
                    + endpoint.replaceAll("/+$", "") + "/" + (accountName == null ? "devstoreaccount1" : accountName));
        }
    }

    /** The blob endpoint: the configured one, or the public one of the named account. Null: from the connection string.
     * */
    String effectiveEndpoint() {
        if (endpoint != null) {
            return endpoint;
        }
        return connectionString == null ? "https://" + accountName + ".blob.core.windows.net" : null;
    }

    @Override
    public String toString() {
        // never print keys, SAS tokens or connection strings
        return "AzureSettings[endpoint=" + endpoint + ", account=" + accountName + ", auth="
                + (connectionString != null
                        ? "connection string"
                        : accountKey != null ? "shared key" : sasToken != null ? "SAS" : "Entra ID default chain")
                + "]";
    }
}
