package dev.lifeboat.cli.commands.replication;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code lifeboat replication run|status|pause|resume|stop|verify}: copies of the repository in other regions. */
@Command(
        name = "replication",
        description = "Replicate the repository to the regions of the replication config.",
        subcommands = {
            ReplicationRunCommand.class,
            ReplicationStatusCommand.class,
            ReplicationPauseCommand.class,
            ReplicationResumeCommand.class,
            ReplicationStopCommand.class,
            ReplicationVerifyCommand.class
        })
public final class ReplicationCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
