package dev.lifeboat.engine.postgres;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.engine.BackupInfo;
import dev.lifeboat.engine.Engine;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.util.SlicedIo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * PostgreSQL ≥ 15: online backups with the non-exclusive low-level API ({@link PgBackup}), restores to the end of a
 * backup or a point in time ({@link PgRestore}), validation of restored copies ({@link PgValidator}), and WAL
 * archived per file under {@code wal/} ({@link WalArchive}).
 */
public final class PostgresEngine implements Engine {
    public static final String NAME = "postgresql";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Snapshot backup(Repository repo, PgBackupOptions opts, ProgressListener listener, Cancellation cancel)
            throws IOException {
        return new PgBackup(repo, opts, listener, cancel).run();
    }

    @Override
    public PgRestore.Result restore(
            Repository repo, PgRestore.Options opts, ProgressListener listener, Cancellation cancel)
            throws IOException {
        return new PgRestore(repo, opts, listener, cancel).run();
    }

    /**
     * Re-hashes the restored files (except those the restore changed on purpose), starts PostgreSQL on the copy,
     * lets it recover to its target and checks it; releases the restore's replay lease once recovery has ended.
     */
    @Override
    public PgValidator.Report validate(
            Repository repo,
            PgRestore.Result restored,
            int parallel,
            List<UserAssertion> assertions,
            ProgressListener listener,
            Cancellation cancel)
            throws IOException {
        Snapshot backup = repo.loadSnapshot(restored.backupId());
        return new PgValidator(repo, restored.target(), backup, parallel, listener, cancel)
                .restored(restored)
                .assertions(assertions)
                .run();
    }

    /** Checks that the file is WAL of the cluster in {@code dataDir} that may write this repository, and stores it. */
    @Override
    public WalArchive.PushResult archiveWal(Repository repo, Path walFile, Path dataDir, String via)
            throws IOException {
        byte[] content = SlicedIo.readAll(walFile);
        return new WalArchive(repo).push(walFile.getFileName().toString(), content, WalSources.of(dataDir, via));
    }

    @Override
    public Optional<byte[]> fetchWal(Repository repo, String name) throws IOException {
        return new WalArchive(repo).read(name);
    }

    @Override
    public BackupInfo readBackupInfo(JsonNode section) {
        return PostgresBackupInfo.fromJson(section);
    }
}
