package dev.lifeboat.cli;

import dev.lifeboat.engine.postgres.RecoverySettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * The recovery_end_command a restore writes: once PostgreSQL has finished replaying (and before it promotes), the
 * restore's recovery settings are removed from postgresql.auto.conf, so they are not backed up with the promoted
 * copy nor applied to a standby made from it.
 */
@Command(name = "recovery-end", hidden = true, description = "Run by PostgreSQL when a restored copy's recovery ends "
        + "(recovery_end_command): removes the restore's recovery settings from postgresql.auto.conf.")
final class RecoveryEndCommand implements Callable<Integer> {
    @Option(names = "--pgdata", paramLabel = "DIR", description = "The restored data directory (default: the working directory, "
            + "which is the data directory when PostgreSQL runs the command).")
    Path pgdata;

    @Override
    public Integer call() throws Exception {
        Path dir = pgdata != null ? pgdata : Path.of("").toAbsolutePath();
        if (RecoverySettings.removeRecoverySettings(dir)) {
            System.err.println("lifeboat: recovery has ended: removed the restore's recovery settings from "
                    + dir.resolve("postgresql.auto.conf"));
        }
        return 0;
    }
}
