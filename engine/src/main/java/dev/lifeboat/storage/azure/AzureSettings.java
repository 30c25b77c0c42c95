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
 * How to reach Azure Blob Storage (or Azurite). Exactly one way to authenticate is used: a connection string, an
 * account name with its key, a SAS token, or, when asked for ({@code LIFEBOAT_AZURE_AUTH=entra-id}, a region's
 * {@code "auth": "entra-id"}), an Entra ID token of the host's own identity, so that no secret is stored. Entra ID is
 * never a silent fallback: a host's identity may be the primary's, and a region must not borrow it unasked.
 *
 * @param endpoint           the account's blob endpoint, e.g. {@code https://acct.blob.core.windows.net}; when null it comes
 *                           from the connection string or is derived from the account name
 * @param connectionString   a storage connection string (it carries the endpoint and the key or a SAS)
 * @param accountName        the storage account, with {@code accountKey}
 * @param accountKey         the account's shared key
 * @param sasToken           a SAS token with read, write, delete, list and create rights on the container
 * @param entraId            an Entra ID identity instead of a secret, or null
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
        EntraId entraId,
        long maxSingleUploadSize,
        long blockSize,
        int uploadThreads,
        int maxTries,
        Duration timeout) {

    /**
     * The host's Entra ID identity: with {@code managedIdentityClientId}, that user-assigned managed identity alone;
     * without it, a service principal in {@code AZURE_CLIENT_ID}/{@code AZURE_TENANT_ID}/{@code AZURE_CLIENT_SECRET},
     * workload identity ({@code AZURE_FEDERATED_TOKEN_FILE}), then the managed identity. Developer logins (the Azure
     * CLI, IDEs) are never used: on a server they would be whoever logged in last. Its data role on the container:
     * Storage Blob Data Contributor to write, Storage Blob Data Reader to restore.
     */
    public record EntraId(String managedIdentityClientId) {
        public static final String AUTH = "entra-id";

        public EntraId {
            managedIdentityClientId = blankToNull(managedIdentityClientId);
        }
    }

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
        boolean secret = connectionString != null || accountKey != null || sasToken != null;
        if (secret && entraId != null) {
            throw new IllegalArgumentException("Azure credentials: give a key, SAS or connection string, or Entra ID "
                    + "(auth entra-id), not both");
        }
        if (!secret && entraId == null) {
            throw new IllegalArgumentException("Azure Blob needs credentials: AZURE_STORAGE_CONNECTION_STRING, or "
                    + "AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY, or AZURE_STORAGE_SAS_TOKEN, or the host's "
                    + "Entra ID identity (managed or workload identity) with LIFEBOAT_AZURE_AUTH=entra-id");
        }
        if (accountKey != null && accountName == null) {
            throw new IllegalArgumentException("an Azure account key needs the account name (AZURE_STORAGE_ACCOUNT)");
        }
        if (connectionString == null && endpoint == null && accountName == null) {
            throw new IllegalArgumentException(
                    "Azure Blob needs an endpoint (LIFEBOAT_AZURE_ENDPOINT) or an account name "
                            + "(AZURE_STORAGE_ACCOUNT)");
        }
        if (endpoint != null) {
            requireAccountPath(endpoint, accountName);
        }
        if (entraId != null && endpoint != null && !endpoint.strip().regionMatches(true, 0, "https://", 0, 8)) {
            throw new IllegalArgumentException("Azure endpoint " + endpoint + " is not https, and an Entra ID token "
                    + "is sent only over https: give an https endpoint, or a key or SAS");
        }
        if (maxSingleUploadSize < 1
                || blockSize < 1
                || uploadThreads < 1
                || maxTries < 1
                || !CloudSettings.isPositive(timeout)) {
            throw new IllegalArgumentException("Azure upload sizes, threads, tries and timeout must be positive");
        }
    }

    /** The variable that asks for the host's Entra ID identity: {@code entra-id}. */
    public static final String AUTH_ENV = "LIFEBOAT_AZURE_AUTH";

    /**
     * Reads {@code LIFEBOAT_AZURE_ENDPOINT}, {@code AZURE_STORAGE_CONNECTION_STRING}, {@code AZURE_STORAGE_ACCOUNT},
     * {@code AZURE_STORAGE_KEY}, {@code AZURE_STORAGE_SAS_TOKEN} and {@code LIFEBOAT_AZURE_AUTH} (with
     * {@code entra-id}, a user-assigned managed identity is named by {@code AZURE_CLIENT_ID}, as the SDK's own chain
     * does).
     */
    public static AzureSettings fromEnvironment(Map<String, String> env) {
        return withDefaults(
                env.get("LIFEBOAT_AZURE_ENDPOINT"),
                env.get("AZURE_STORAGE_CONNECTION_STRING"),
                env.get("AZURE_STORAGE_ACCOUNT"),
                env.get("AZURE_STORAGE_KEY"),
                env.get("AZURE_STORAGE_SAS_TOKEN"),
                entraId(AUTH_ENV, env.get(AUTH_ENV), null));
    }

    private static EntraId entraId(String name, String auth, String managedIdentityClientId) {
        auth = blankToNull(auth);
        if (auth == null) {
            if (managedIdentityClientId != null) {
                throw new IllegalArgumentException("managedIdentityClientId needs \"auth\": \"entra-id\"");
            }
            return null;
        }
        if (!auth.equals(EntraId.AUTH)) {
            throw new IllegalArgumentException(name + " is '" + auth + "': the only value is " + EntraId.AUTH
                    + " (the host's managed or workload identity); leave it unset to use a key, SAS or connection "
                    + "string");
        }
        return new EntraId(managedIdentityClientId);
    }

    /** Whether requests carry an Entra ID token of the host's identity (no key, SAS or connection string). */
    public boolean usesEntraId() {
        return entraId != null;
    }

    /** The settings a {@link StoreConfig} may name for Azure Blob. */
    public static final Set<String> CONFIG_KEYS = Set.of(
            "endpoint", "account", "accountKey", "sasToken", "connectionString", "auth", "managedIdentityClientId");

    /**
     * A store's own settings (a replication region's): nothing comes from this process's {@code AZURE_STORAGE_*}
     * variables. {@code accountKey}, {@code sasToken} and {@code connectionString} are secrets ({@code env:} or
     * {@code file:}); instead of them {@code "auth": "entra-id"} uses the host's Entra ID identity, best a
     * user-assigned managed identity of the region's own ({@code managedIdentityClientId}).
     */
    public static AzureSettings fromConfig(StoreConfig c) {
        c.allowOnly("Azure", CONFIG_KEYS);
        String connectionString = c.secret("connectionString");
        String accountKey = c.secret("accountKey");
        String sasToken = c.secret("sasToken");
        if (connectionString == null && accountKey == null && sasToken == null && c.get("auth") == null) {
            throw new IllegalArgumentException(c.owner() + ": Azure store settings need connectionString, or account "
                    + "with accountKey, or sasToken, or \"auth\": \"entra-id\" for the host's managed or workload "
                    + "identity");
        }
        try {
            return withDefaults(
                    c.get("endpoint"),
                    connectionString,
                    c.get("account"),
                    accountKey,
                    sasToken,
                    entraId("auth", c.get("auth"), c.get("managedIdentityClientId")));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(c.owner() + ": " + e.getMessage(), e);
        }
    }

    public static AzureSettings sharedKey(String endpoint, String accountName, String accountKey) {
        return withDefaults(endpoint, null, accountName, accountKey, null, null);
    }

    /** A SAS token's settings (e.g. one that may read and list only, for a restore host). */
    public static AzureSettings sas(String endpoint, String sasToken) {
        return withDefaults(endpoint, null, null, null, sasToken, null);
    }

    /** Where and how to authenticate, with the default upload sizes, tries and timeout. */
    private static AzureSettings withDefaults(
            String endpoint,
            String connectionString,
            String accountName,
            String accountKey,
            String sasToken,
            EntraId entraId) {
        return new AzureSettings(
                endpoint,
                connectionString,
                accountName,
                accountKey,
                sasToken,
                entraId,
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
                entraId,
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
                        : accountKey != null
                                ? "shared key"
                                : sasToken != null
                                        ? "SAS"
                                        : "Entra ID"
                                                + (entraId.managedIdentityClientId() == null
                                                        ? ""
                                                        : " (managed identity " + entraId.managedIdentityClientId()
                                                                + ")"))
                + "]";
    }
}
