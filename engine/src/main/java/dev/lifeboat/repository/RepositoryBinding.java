package dev.lifeboat.repository;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.util.Hosts;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * A repository belongs to one PostgreSQL system identifier: the write-once object {@code cluster} (plain JSON)
 * records which, and when and by whom it was bound. The first {@code wal-push}, {@code wal-stream} or backup into a
 * repository that has none creates it with {@code putIfAbsent}; every later one must present the same identifier.
 * A restored copy has its original's identifier, so this tells clusters apart, not copies: timeline owners
 * ({@link TimelineOwners}) do that.
 */
public final class RepositoryBinding {
    public static final String KEY = "cluster";

    /**
     * @param systemIdentifier unsigned decimal, as PostgreSQL prints it (JSON numbers do not hold every uint64)
     * @param boundBy          who bound it, in words (e.g. "wal-push of the original cluster (…)")
     * @param pgdata           the binder's data directory, when known
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Binding(String systemIdentifier, Instant boundAt, String host, String pgdata, String boundBy) {
        public long systemId() {
            return Long.parseUnsignedLong(systemIdentifier);
        }

        public String describe() {
            return "system identifier " + systemIdentifier + " (bound " + boundAt + " by " + boundBy + " on host "
                    + host + (pgdata == null ? "" : ", PGDATA " + pgdata) + ")";
        }
    }

    private RepositoryBinding() {}

    /** The binding, if the repository has one. */
    public static Optional<Binding> read(BlobStore store) throws IOException {
        byte[] b;
        try {
            b = store.get(KEY);
        } catch (BlobNotFoundException e) {
            return Optional.empty();
        }
        try {
            Binding binding = Json.MAPPER.readValue(b, Binding.class);
            binding.systemId(); // a number, or the object is damaged
            return Optional.of(binding);
        } catch (IOException | RuntimeException e) {
            throw new RepositoryException.Corrupt("the repository's '" + KEY + "' object in " + store.uri()
                    + " (which system identifier it belongs to) is damaged: " + e.getMessage());
        }
    }

    /**
     * For backups: returns the repository's binding, creating it for {@code systemId} if it has none; refuses another
     * system identifier. {@code describeWho} names the caller in the record and in the error, e.g. "backup of PGDATA
     * /var/lib/postgresql/15/main".
     */
    public static Binding requireOrBind(Repository repo, long systemId, String describeWho) throws IOException {
        return requireOrBind(repo, systemId, describeWho, Hosts.name(), null);
    }

    /** As {@link #requireOrBind(Repository, long, String)} for a WAL writer. */
    public static Binding requireOrBind(Repository repo, WalSource who) throws IOException {
        return requireOrBind(
                repo, who.systemIdentifier(), who.via() + " of " + who.identity(), who.host(), who.pgdata());
    }

    private static Binding requireOrBind(Repository repo, long systemId, String who, String host, String pgdata)
            throws IOException {
        BlobStore store = repo.store();
        Optional<Binding> bound = read(store);
        if (bound.isEmpty()) {
            checkBackups(repo, systemId, who);
            Binding mine = new Binding(Long.toUnsignedString(systemId), Instant.now(), host, pgdata, who);
            if (store.putIfAbsent(KEY, Json.pretty(mine).getBytes(StandardCharsets.UTF_8))) {
                return mine;
            }
            bound = read(store); // bound by another writer meanwhile
            if (bound.isEmpty()) {
                throw new IOException(
                        "the '" + KEY + "' object of " + repo.uri() + " was refused as existing but cannot be read");
            }
        }
        if (bound.get().systemId() != systemId) {
            throw new RefusedException(
                    RefusedException.Reason.OTHER_SYSTEM,
                    "repository " + repo.uri()
                            + " belongs to PostgreSQL " + bound.get().describe() + "; this is " + who + " on host "
                            + host
                            + (pgdata == null ? "" : ", PGDATA " + pgdata) + ", system identifier "
                            + Long.toUnsignedString(systemId)
                            + ": another cluster. Give each cluster its own repository (lifeboat repo-init --repo "
                            + "NEW_URI)");
        }
        return bound.get();
    }

    /** A repository from before bindings existed: its newest backup tells whose it is. */
    private static void checkBackups(Repository repo, long systemId, String who) throws IOException {
        List<String> ids = repo.listSnapshotIds();
        if (ids.isEmpty()) {
            return;
        }
        Snapshot last = repo.loadSnapshot(ids.getLast());
        long recorded = last.engineInfo().systemIdentifier();
        String expected = Long.toUnsignedString(recorded);
        if (recorded != 0 && recorded != systemId) {
            throw new RefusedException(
                    RefusedException.Reason.OTHER_SYSTEM,
                    "repository " + repo.uri()
                            + " holds backups of PostgreSQL system identifier " + expected + " (backup " + last.id()
                            + "); this is "
                            + who + ", system identifier " + Long.toUnsignedString(systemId)
                            + ": another cluster. Give each cluster its own repository (lifeboat repo-init --repo "
                            + "NEW_URI)");
        }
    }
}
