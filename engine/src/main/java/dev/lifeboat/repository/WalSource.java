package dev.lifeboat.repository;

/**
 * Who is writing WAL into an archive. {@link WalArchive} compares it with the repository's binding
 * ({@link RepositoryBinding}) and the owner of the timeline ({@link TimelineOwners}), and every refusal names it.
 *
 * @param systemIdentifier PostgreSQL's system identifier of the pushing cluster (its pg_control, or IDENTIFY_SYSTEM)
 * @param clusterId        which line of history the cluster continues: {@code origin}, or the id the restore that
 *                         made it wrote into its restore marker ({@code engine.postgres.ClusterIdentity})
 * @param identity         the cluster in words ({@code ClusterIdentity.describe()})
 * @param host             the host the cluster runs on
 * @param pgdata           its data directory; null when not known (a server streamed from over TCP)
 * @param restoredFrom     the backup a copy was restored from; null for the origin
 * @param via              what writes: {@code wal-push}, {@code the async pusher}, {@code wal-stream from …}
 */
public record WalSource(
        long systemIdentifier,
        String clusterId,
        String identity,
        String host,
        String pgdata,
        String restoredFrom,
        String via) {
    public WalSource {
        if (clusterId == null || clusterId.isBlank()) {
            throw new IllegalArgumentException("a WAL source needs a cluster id");
        }
    }

    /** "a copy restored from backup … (cluster id …) on host db2, PGDATA /srv/copy, via wal-push". */
    public String describe() {
        return identity + " on host " + host + (pgdata == null ? "" : ", PGDATA " + pgdata) + ", via " + via;
    }
}
