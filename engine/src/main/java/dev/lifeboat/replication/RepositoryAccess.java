package dev.lifeboat.replication;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStores;
import dev.lifeboat.storage.StoreOptions;
import dev.lifeboat.storage.readonly.ReadOnlyBlobStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * Opens a repository the way every command and agent job does: the primary store, wrapped with the synchronous
 * regions of a replication config when one is given, then the repository itself (asking for a key only when it is
 * encrypted).
 */
public final class RepositoryAccess {
    /** Supplies the key only when the repository turns out to be encrypted (so a prompt is never shown needlessly). */
    @FunctionalInterface
    public interface KeySupplier {
        KeySource get() throws IOException;
    }

    private RepositoryAccess() {}

    /** The repository's store, with its synchronous regions when {@code replication} (a config file) is given. */
    public static BlobStore openStore(String uri, Path replication) {
        if (uri == null || uri.isBlank()) {
            throw new IllegalArgumentException("no repository given: pass --repo URI or set LIFEBOAT_REPO");
        }
        BlobStore primary = BlobStores.open(uri);
        if (replication == null) {
            return primary;
        }
        ReplicationConfig config;
        try {
            config = ReplicationConfig.load(replication);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read replication config " + replication + ": " + e.getMessage());
        }
        Map<String, BlobStore> sync = new LinkedHashMap<>();
        for (ReplicationConfig.Region r : config.regions()) {
            if (r.parsedMode() == ReplicationConfig.Mode.SYNCHRONOUS) {
                sync.put(r.name(), openRegion(r, () -> false));
            }
        }
        return sync.isEmpty() ? primary : new ReplicatingBlobStore(primary, sync);
    }

    /**
     * A replication region's store, through the store stack with the region's bandwidth as its rate limit (and any
     * stricter process-wide limit); {@code stop} cuts its rate-limit and retry waits short.
     */
    public static BlobStore openRegion(ReplicationConfig.Region region, BooleanSupplier stop) {
        StoreOptions options = StoreOptions.fromEnvironment(System.getenv())
                .withLimits(region.limits())
                .withStop(stop);
        return BlobStores.open(region.uri(), options, region.storeConfig());
    }

    /**
     * A replication region's store for a restore, drill or check ({@code --from-region}): read-only, so the reader
     * takes no lock or replay lease there and writes nothing to a copy whose only writer is the replicator.
     */
    public static BlobStore openRegionForReading(ReplicationConfig.Region region, BooleanSupplier stop) {
        return new ReadOnlyBlobStore(
                openRegion(region, stop),
                "region " + region.name()
                        + " is read-only for restores, drills and checks (its only writer is the replicator)");
    }

    /** Opens the repository in {@code store}; {@code keys} is asked only when the repository is encrypted. */
    public static Repository open(BlobStore store, KeySupplier keys) throws IOException {
        byte[] probe = null;
        try {
            probe = store.get(Repository.CONFIG_KEY);
        } catch (BlobNotFoundException ignored) {
            // open() reports a missing config clearly; any other failure (no access, no token) is reported now,
            // not met a second time
        }
        boolean encrypted = probe == null || new String(probe, StandardCharsets.UTF_8).contains("aes-256-gcm");
        return Repository.open(store, encrypted ? keys.get() : null);
    }
}
