package dev.lifeboat.cli.commands.replication;

import dev.lifeboat.replication.Replicator;
import picocli.CommandLine.Command;

@Command(name = "stop", description = "Make running replicators for the selected regions exit.")
public final class ReplicationStopCommand extends ReplicationStateCommand {
    @Override
    Replicator.State state() {
        return Replicator.State.STOPPED;
    }
}
