package dev.lifeboat.cli.commands.replication;

import dev.lifeboat.replication.Replicator;
import picocli.CommandLine.Command;

@Command(name = "pause", description = "Pause copying to the selected regions (a running replicator waits).")
public final class ReplicationPauseCommand extends ReplicationStateCommand {
    @Override
    Replicator.State state() {
        return Replicator.State.PAUSED;
    }
}
