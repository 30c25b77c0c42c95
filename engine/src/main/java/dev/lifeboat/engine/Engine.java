package dev.lifeboat.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.engine.postgres.PgBackupOptions;
import dev.lifeboat.engine.postgres.PgRestore;
import dev.lifeboat.engine.postgres.PgValidator;
import dev.lifeboat.engine.postgres.UserAssertion;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.WalArchive;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A database engine Lifeboat backs up: what the front doors (CLI commands, agent jobs) call, and what reads the
 * engine's section of a manifest. Each engine lives in a folder of its own under {@code dev.lifeboat.engine}
 * ({@code postgres/} for PostgreSQL) and is listed in {@link Engines}. The methods take the PostgreSQL option records
 * for now: they are what the front doors build today.
 */
public interface Engine {
    /** The engine's name as manifests record it ({@link Snapshot#engine()}, {@link BackupInfo#engine()}). */
    String name();

    /** Takes an online backup of the running server into {@code repo}; returns its manifest, already stored. */
    Snapshot backup(Repository repo, PgBackupOptions opts, ProgressListener listener, Cancellation cancel)
            throws IOException;

    /**
     * Restores a backup into an empty directory, to the end of the backup or, with {@code opts.recoveryTarget()}, to a
     * point in time (the backup chosen for it, and the recovery settings that replay archived WAL up to it).
     */
    PgRestore.Result restore(Repository repo, PgRestore.Options opts, ProgressListener listener, Cancellation cancel)
            throws IOException;

    /** Validates the copy {@code restored} describes: its files against the manifest, then the running database. */
    default PgValidator.Report validate(
            Repository repo, PgRestore.Result restored, int parallel, ProgressListener listener, Cancellation cancel)
            throws IOException {
        return validate(repo, restored, parallel, List.of(), listener, cancel);
    }

    /** {@link #validate(Repository, PgRestore.Result, int, ProgressListener, Cancellation)} plus operator checks. */
    PgValidator.Report validate(
            Repository repo,
            PgRestore.Result restored,
            int parallel,
            List<UserAssertion> assertions,
            ProgressListener listener,
            Cancellation cancel)
            throws IOException;

    /**
     * Archives one WAL (log) file of the cluster in {@code dataDir}, which writes it through {@code via} (e.g.
     * {@code wal-push}, for messages); only once it is durable in the repository does this return.
     */
    WalArchive.PushResult archiveWal(Repository repo, Path walFile, Path dataDir, String via) throws IOException;

    /** One archived WAL file by name, or empty if it is not archived. */
    Optional<byte[]> fetchWal(Repository repo, String name) throws IOException;

    /**
     * Reads this engine's section of a manifest in any version it knows (throws {@link IllegalArgumentException} for
     * one it does not); for the engine that wrote manifests before sections had versions, also those string maps.
     */
    BackupInfo readBackupInfo(JsonNode section);
}
