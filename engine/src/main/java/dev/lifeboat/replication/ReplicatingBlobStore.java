package dev.lifeboat.replication;

import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.ForwardingBlobStore;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The primary store plus the synchronous regions: a write returns only once it is durable in the primary and in
 * every synchronous region, so an acknowledged pack, WAL segment or manifest survives the loss of any one region.
 * The primary is written first (the background replicator relies on that: an object found in a secondary is
 * always in the primary too, unless deleted there since). Reads, listings and locks use the primary alone (reads and
 * listings are simply forwarded to it).
 */
public final class ReplicatingBlobStore extends ForwardingBlobStore {
    private final BlobStore primary;
    private final Map<String, BlobStore> secondaries;
    private final ExecutorService io = Executors.newVirtualThreadPerTaskExecutor();

    /** @param secondaries synchronous regions by name */
    public ReplicatingBlobStore(BlobStore primary, Map<String, BlobStore> secondaries) {
        super(primary);
        this.primary = primary;
        this.secondaries = Map.copyOf(secondaries);
    }

    /** Locks and replication state belong to the primary only; everything else is repository content. */
    static boolean replicated(String key) {
        return !key.startsWith("locks/") && !key.startsWith(Replicator.STATE_PREFIX);
    }

    private volatile boolean regionsChecked;

    /**
     * Before the first write: every synchronous region must hold this repository (the same {@code config}) or
     * none yet, so a replication file pointing at another repository can never overwrite its keys or data.
     */
    private void checkRegions() throws IOException {
        if (regionsChecked) {
            return;
        }
        byte[] config = primary.stat("config").isPresent() ? primary.get("config") : null;
        forEachSecondary("check the repository", s -> {
            if (s.stat("config").isEmpty()) {
                return;
            }
            if (config == null || !Arrays.equals(config, s.get("config"))) {
                throw new IOException(s.uri() + " holds another repository (its config differs from " + primary.uri()
                        + "'s); refusing to write to it");
            }
        });
        regionsChecked = true;
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        if (replicated(key)) {
            checkRegions();
        }
        primary.put(key, data, offset, length);
        if (replicated(key)) {
            forEachSecondary("write " + key, s -> s.put(key, data, offset, length));
        }
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        if (replicated(key)) {
            checkRegions();
        }
        boolean created = primary.putIfAbsent(key, data);
        if (replicated(key)) {
            byte[] stored = created ? data : primary.get(key);
            // conditional in the regions too (never overwrite what a region holds), and also when the object
            // already existed here: an earlier attempt may have died before reaching every region
            forEachSecondary("write " + key, s -> {
                if (!s.putIfAbsent(key, stored) && !Arrays.equals(stored, s.get(key))) {
                    throw new IOException("it holds a different " + key);
                }
            });
        }
        return created;
    }

    @Override
    public void delete(String key) throws IOException {
        if (replicated(key)) {
            checkRegions();
        }
        primary.delete(key);
        if (replicated(key)) {
            forEachSecondary("delete " + key, s -> s.delete(key));
        }
    }

    private interface StoreAction {
        void run(BlobStore s) throws IOException;
    }

    private void forEachSecondary(String what, StoreAction action) throws IOException {
        List<Map.Entry<String, Future<Void>>> pending = secondaries.entrySet().stream()
                .map(e -> Map.entry(e.getKey(), io.submit(() -> {
                    action.run(e.getValue());
                    return (Void) null;
                })))
                .toList();
        IOException failure = null;
        for (Map.Entry<String, Future<Void>> p : pending) {
            try {
                p.getValue().get();
            } catch (ExecutionException e) {
                IOException io = new IOException(
                        "synchronous region " + p.getKey() + " ("
                                + secondaries.get(p.getKey()).uri() + ") failed to " + what + ": "
                                + e.getCause().getMessage(),
                        e.getCause());
                if (failure == null) {
                    failure = io;
                } else {
                    failure.addSuppressed(io);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while replicating " + what, e);
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public void close() throws IOException {
        io.shutdown();
        primary.close();
        for (BlobStore s : secondaries.values()) {
            s.close();
        }
    }
}
