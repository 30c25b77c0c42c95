package dev.lifeboat.repository;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.core.JacksonException;
import dev.lifeboat.engine.BackupInfo;
import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.util.Hosts;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * A replay lease ({@code locks/replay-<uuid>}): a restore that leaves PostgreSQL to replay archived WAL records which
 * WAL the replay needs, so that {@code expire} keeps it although the restore's shared lock ended when its files were
 * written. {@code expire} treats a live lease like a kept backup that starts at the lease's first segment on the
 * lease's timeline. {@code wal-get} renews the lease (writing at most once a minute); the recovery-end command
 * releases it; a lease not renewed for {@link #DEFAULT_TTL} (configurable for {@code expire}) is stale, and
 * {@code expire} ignores and deletes it.
 * <p>
 * Create a lease while the restore still holds its shared lock: {@code expire} runs only while no reader holds one,
 * so it either finished before the restore started or sees the lease.
 */
public final class ReplayLease {
    public static final String PREFIX = Repository.LOCKS + "replay-";
    public static final Duration DEFAULT_TTL = Duration.ofHours(24);
    /** {@link #renew} writes at most this often; reading the lease is all it costs in between. */
    public static final Duration RENEW_EVERY = Duration.ofMinutes(1);

    private static final Pattern ID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    /**
     * @param backup         the backup the restore wrote
     * @param timeline       that backup's timeline
     * @param startLsn       that backup's start LSN: replay reads WAL from its segment on
     * @param firstSegment   the WAL segment holding {@code startLsn} (on {@code timeline}), for people
     * @param walSegmentSize the cluster's WAL segment size
     * @param target         the restored data directory
     * @param host           where it was restored
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Lease(
            String id,
            String backup,
            int timeline,
            String startLsn,
            String firstSegment,
            long walSegmentSize,
            String target,
            String host,
            Instant created,
            Instant renewed) {
        public String key() {
            return PREFIX + id;
        }

        public Instant lastRenewed() {
            return renewed == null ? created : renewed;
        }

        public boolean isStale(Instant now, Duration ttl) {
            Instant last = lastRenewed();
            return last == null || Duration.between(last, now).compareTo(ttl) > 0;
        }

        /** {@code the recovery into /srv/pitr on db2, lease 6f1c…}. */
        public String describe() {
            return "the recovery into " + target + " on " + host + ", lease " + id;
        }
    }

    /** What {@link #renew} did. */
    public enum Renewal {
        /** the lease now records this moment */
        RENEWED,
        /** renewed less than {@link #RENEW_EVERY} ago: nothing written */
        NOT_DUE,
        /** no such lease: released, or deleted by {@code expire} as stale (WAL it needed may be gone) */
        GONE
    }

    /**
     * Every lease in the store. {@code unreadable} lists leases that cannot be parsed (with their store times), which
     * {@code expire} cannot interpret and so deletes no WAL while one is fresh.
     */
    public record Listing(List<Lease> leases, List<BlobInfo> unreadable) {
        public List<Lease> live(Instant now, Duration ttl) {
            return leases.stream().filter(l -> !l.isStale(now, ttl)).toList();
        }

        public List<Lease> stale(Instant now, Duration ttl) {
            return leases.stream().filter(l -> l.isStale(now, ttl)).toList();
        }
    }

    private ReplayLease() {}

    /** A lease for replaying from {@code backup}'s start (its engine section names start LSN, timeline, segment
     * size). */
    public static Lease create(BlobStore store, Snapshot backup, Path target) throws IOException {
        BackupInfo info = backup.engineInfo();
        if (info == null || info.startLsn() == 0 || info.walSegmentSize() == 0) {
            throw new IllegalArgumentException(
                    "backup " + backup.id() + " does not record its start LSN and WAL segment size, "
                            + "so no replay lease can say which WAL it needs");
        }
        return create(
                store,
                backup.id(),
                info.timeline() > 0 ? info.timeline() : 1,
                Lsn.format(info.startLsn()),
                info.walSegmentSize(),
                target);
    }

    public static Lease create(
            BlobStore store, String backupId, int timeline, String startLsn, long walSegmentSize, Path target)
            throws IOException {
        if (walSegmentSize <= 0 || Long.bitCount(walSegmentSize) != 1) {
            throw new IllegalArgumentException("WAL segment size " + walSegmentSize + " is not a power of two");
        }
        String first = Lsn.segmentName(timeline, Lsn.segmentOf(Lsn.parse(startLsn), walSegmentSize), walSegmentSize);
        Instant now = Instant.now();
        Lease lease = new Lease(
                UUID.randomUUID().toString(),
                backupId,
                timeline,
                startLsn,
                first,
                walSegmentSize,
                target.toAbsolutePath().normalize().toString(),
                Hosts.name(),
                now,
                now);
        if (!store.putIfAbsent(lease.key(), Json.MAPPER.writeValueAsBytes(lease))) {
            throw new IOException(
                    "replay lease " + lease.key() + " already exists in " + store.uri() + " (a random id collided?)");
        }
        return lease;
    }

    /** Records that the replay is still running; cheap to call per WAL file (one read; one write a minute). */
    public static Renewal renew(BlobStore store, String id) throws IOException {
        return renew(store, id, Instant.now());
    }

    static Renewal renew(BlobStore store, String id, Instant now) throws IOException {
        String key = keyOf(id);
        Lease lease;
        try {
            lease = Json.MAPPER.readValue(store.get(key), Lease.class);
        } catch (BlobNotFoundException e) {
            return Renewal.GONE;
        } catch (JacksonException e) {
            throw new RepositoryException.Corrupt(
                    "replay lease " + key + " in " + store.uri() + " is unreadable: " + e.getOriginalMessage());
        }
        if (lease.lastRenewed() != null
                && Duration.between(lease.lastRenewed(), now).compareTo(RENEW_EVERY) < 0) {
            return Renewal.NOT_DUE;
        }
        store.put(
                key,
                Json.MAPPER.writeValueAsBytes(new Lease(
                        lease.id(),
                        lease.backup(),
                        lease.timeline(),
                        lease.startLsn(),
                        lease.firstSegment(),
                        lease.walSegmentSize(),
                        lease.target(),
                        lease.host(),
                        lease.created(),
                        now)));
        return Renewal.RENEWED;
    }

    /** Ends the lease (recovery has finished); releasing a lease that is gone is not an error. */
    public static void release(BlobStore store, String id) throws IOException {
        store.delete(keyOf(id));
    }

    /** Every lease in the store. */
    public static Listing list(BlobStore store) throws IOException {
        List<Lease> out = new ArrayList<>();
        List<BlobInfo> unreadable = new ArrayList<>();
        for (BlobInfo b : store.list(PREFIX)) {
            try {
                out.add(Json.MAPPER.readValue(store.get(b.key()), Lease.class));
            } catch (BlobNotFoundException e) {
                // released meanwhile
            } catch (JacksonException e) {
                unreadable.add(b);
            }
        }
        return new Listing(out, unreadable);
    }

    /** The leases renewed within {@code ttl} of {@code now}. */
    public static List<Lease> live(BlobStore store, Instant now, Duration ttl) throws IOException {
        return list(store).live(now, ttl);
    }

    private static String keyOf(String id) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new IllegalArgumentException("'" + id + "' is not a replay lease id (a UUID such as 6f1c0b7e-…)");
        }
        return PREFIX + id;
    }
}
