package dev.lifeboat.cli.commands.replication;

import dev.lifeboat.replication.Replicator;
import picocli.CommandLine.Command;

@Command(name = "resume", description = "Resume copying to the selected regions (also after stop: start 'run' again).")
public final class ReplicationResumeCommand extends ReplicationStateCommand {
    @Override
    Replicator.State state() {
        return Replicator.State.RUNNING;
    }
}
