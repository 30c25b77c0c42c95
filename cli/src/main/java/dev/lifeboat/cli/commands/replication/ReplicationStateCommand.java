package dev.lifeboat.cli.commands.replication;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.replication.Replicator;
import dev.lifeboat.storage.BlobStore;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;

/** {@code pause}, {@code resume} and {@code stop}: set the control state running replicators follow. */
abstract class ReplicationStateCommand implements Callable<Integer> {
    @Mixin
    ReplicationTarget target;

    @Mixin
    OutputOptions output;

    abstract Replicator.State state();

    @Override
    public Integer call() throws Exception {
        ReplicationConfig c = target.config();
        BlobStore primary = target.primary();
        Map<String, String> regions = new LinkedHashMap<>();
        for (ReplicationConfig.Region r : target.selected(c)) {
            Replicator.setControl(primary, r.name(), state());
            regions.put(r.name(), state().name().toLowerCase());
            if (!output.json()) {
                System.out.println(r.name() + ": " + state().name().toLowerCase());
            }
        }
        if (output.json()) {
            output.printJson(Map.of("regions", regions));
        }
        return 0;
    }
}
