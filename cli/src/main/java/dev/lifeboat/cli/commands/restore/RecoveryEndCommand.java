package dev.lifeboat.cli.commands.restore;

import dev.lifeboat.cli.options.LoggingOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.engine.postgres.RecoverySettings;
import dev.lifeboat.repository.ReplayLease;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The recovery_end_command a restore writes: once PostgreSQL has finished replaying (and before it promotes), the
 * restore's recovery settings are removed from postgresql.auto.conf, so they are not backed up with the promoted
 * copy nor applied to a standby made from it; and the restore's replay lease is released, so expire may delete the
 * archived WAL the recovery needed.
 */
@Command(
        name = "recovery-end",
        hidden = true,
        description = "Run by PostgreSQL when a restored copy's recovery ends "
                + "(recovery_end_command): removes the restore's recovery settings from postgresql.auto.conf.")
public final class RecoveryEndCommand implements Callable<Integer> {
    @Option(
            names = "--pgdata",
            paramLabel = "DIR",
            description = "The restored data directory (default: the working directory, "
                    + "which is the data directory when PostgreSQL runs the command).")
    Path pgdata;

    @Mixin
    RepoOptions repo;

    @Mixin
    LoggingOptions logging;

    @Option(names = "--lease", paramLabel = "ID", description = "The restore's replay lease to release.")
    String lease;

    @Override
    public Integer call() throws Exception {
        Path dir = pgdata != null ? pgdata : Path.of("").toAbsolutePath();
        if (RecoverySettings.removeRecoverySettings(dir)) {
            System.err.println("lifeboat: recovery has ended: removed the restore's recovery settings from "
                    + dir.resolve("postgresql.auto.conf"));
        }
        if (lease != null) {
            // the settings go first: a repository that cannot be reached must not keep them in place
            ReplayLease.release(repo.store(), lease);
            System.err.println("lifeboat: released replay lease " + lease);
        }
        return 0;
    }
}
