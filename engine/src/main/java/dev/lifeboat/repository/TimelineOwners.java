package dev.lifeboat.repository;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Who archives each timeline: one write-once object {@code timelines/<8 hex>} per timeline (sealed JSON, AAD
 * {@code lifeboat-timeline:<8 hex>}), created with {@code putIfAbsent} by the first push of any file of that timeline.
 * A restored copy has the system identifier of its original, but its own cluster id (restore marker), so it cannot
 * take over a timeline the original archives, and readers (recovery planning, {@code list}) can tell the original's
 * timelines from a copy's. Timelines archived before owners existed have no record until the next push claims them.
 * Records never change, so a long-lived process caches them.
 */
public final class TimelineOwners {
    public static final String PREFIX = "timelines/";
    private static final Pattern NAME = Pattern.compile("[0-9A-F]{8}");

    /**
     * @param clusterId        the owner's cluster id ({@code origin} for the original cluster)
     * @param systemIdentifier unsigned decimal
     * @param identity         the owner in words, when it claimed the timeline
     * @param restoredFrom     the backup the owner was restored from (null for the origin)
     * @param via              what pushed the first file ({@code wal-push}, {@code wal-stream from …})
     * @param firstFile        the file whose push created the record
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Owner(
            int timeline,
            String clusterId,
            String systemIdentifier,
            String identity,
            String host,
            String pgdata,
            String restoredFrom,
            String via,
            String firstFile,
            Instant created) {
        public boolean isOrigin() {
            return "origin".equals(clusterId);
        }

        public String describe() {
            return identity + " on host " + host + (pgdata == null ? "" : ", PGDATA " + pgdata) + " (its first file "
                    + firstFile + " archived " + created + ")";
        }
    }

    private final Repository repo;
    private final Map<Integer, Owner> cache = new ConcurrentHashMap<>();

    public TimelineOwners(Repository repo) {
        this.repo = repo;
    }

    public static String key(int timeline) {
        return PREFIX + hex(timeline);
    }

    private static String hex(int timeline) {
        return String.format("%08X", timeline);
    }

    private static byte[] aad(int timeline) {
        return ("lifeboat-timeline:" + hex(timeline)).getBytes(StandardCharsets.US_ASCII);
    }

    /** The owner of {@code timeline}, if it has one. */
    public Optional<Owner> get(int timeline) throws IOException {
        Owner o = cache.get(timeline);
        if (o != null) {
            return Optional.of(o);
        }
        byte[] sealed;
        try {
            sealed = repo.store().get(key(timeline));
        } catch (BlobNotFoundException e) {
            return Optional.empty();
        }
        o = decode(timeline, sealed);
        cache.put(timeline, o);
        return Optional.of(o);
    }

    /**
     * The owner of {@code timeline}: {@code who} if the timeline had none (this call created the record), else the
     * existing one, which may be another cluster (the caller decides what that means).
     */
    public Owner claim(int timeline, WalSource who, String firstFile) throws IOException {
        Optional<Owner> existing = get(timeline);
        if (existing.isPresent()) {
            return existing.get();
        }
        Owner mine = new Owner(
                timeline,
                who.clusterId(),
                Long.toUnsignedString(who.systemIdentifier()),
                who.identity(),
                who.host(),
                who.pgdata(),
                who.restoredFrom(),
                who.via(),
                firstFile,
                Instant.now());
        byte[] sealed = repo.sealMetadata(Json.MAPPER.writeValueAsBytes(mine), aad(timeline));
        if (repo.store().putIfAbsent(key(timeline), sealed)) {
            cache.put(timeline, mine);
            return mine;
        }
        return get(timeline)
                .orElseThrow(() -> new IOException("the owner record " + key(timeline) + " of " + repo.uri()
                        + " was refused as existing but cannot be read"));
    }

    /** Every recorded owner, by timeline. */
    public Map<Integer, Owner> all() throws IOException {
        Map<Integer, Owner> out = new TreeMap<>();
        for (BlobInfo b : repo.store().list(PREFIX)) {
            String name = b.key().substring(PREFIX.length());
            if (!NAME.matcher(name).matches()) {
                continue; // not ours (a temporary file of a store, say)
            }
            int tli = Integer.parseUnsignedInt(name, 16);
            get(tli).ifPresent(o -> out.put(tli, o));
        }
        return out;
    }

    private Owner decode(int timeline, byte[] sealed) {
        byte[] plain = repo.openMetadata(sealed, aad(timeline), "owner record " + key(timeline));
        try {
            Owner o = Json.MAPPER.readValue(plain, Owner.class);
            if (o == null || o.clusterId() == null || o.systemIdentifier() == null || o.timeline() != timeline) {
                throw new IllegalArgumentException("incomplete record");
            }
            return o;
        } catch (IOException | IllegalArgumentException e) {
            throw new RepositoryException.Corrupt(
                    "owner record " + key(timeline) + " in " + repo.uri() + " is damaged: " + e.getMessage());
        }
    }
}
