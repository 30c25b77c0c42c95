package dev.lifeboat.replication;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.core.JacksonException;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The region objects a pass found absent on the primary and left for the next pass ({@code
 * replication/<region>/pending-deletes} in the primary, never replicated): packs, index files and whole WAL leave a
 * region one pass after they left the primary. Kept in the store, not in memory, so a pass per process ({@code
 * replication run --once}, an agent's job) deletes them too. Any earlier complete pass's set will do: it is read
 * before this pass lists both stores, so what it names was absent from the primary before this listing began.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
record PendingDeletes(List<String> keys) {
    private static final Logger log = LoggerFactory.getLogger(PendingDeletes.class);

    static String key(String region) {
        return Replicator.STATE_PREFIX + region + "/pending-deletes";
    }

    /** The set the last pass left; empty when none did or it is unreadable (deletes then wait one more pass). */
    static Set<String> read(BlobStore primary, String region) throws IOException {
        byte[] raw;
        try {
            raw = primary.get(key(region));
        } catch (BlobNotFoundException e) {
            return Set.of();
        }
        try {
            PendingDeletes p = Json.MAPPER.readValue(raw, PendingDeletes.class);
            return p.keys() == null ? Set.of() : Set.copyOf(p.keys());
        } catch (JacksonException e) {
            log.warn(
                    "region {}: {} is unreadable ({}); its deletes wait a pass",
                    region,
                    key(region),
                    e.getOriginalMessage());
            return Set.of();
        }
    }

    static void write(BlobStore primary, String region, Set<String> keys) throws IOException {
        if (keys.isEmpty()) {
            primary.delete(key(region));
        } else {
            primary.put(
                    key(region), Json.MAPPER.writeValueAsBytes(new PendingDeletes(List.copyOf(new TreeSet<>(keys)))));
        }
    }
}
