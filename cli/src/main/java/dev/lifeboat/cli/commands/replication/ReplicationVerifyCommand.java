package dev.lifeboat.cli.commands.replication;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.output.SignalCancellation;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.replication.Replicator;
import dev.lifeboat.replication.RepositoryAccess;
import dev.lifeboat.storage.BlobStore;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "verify",
        aliases = "validate",
        description = "Compare each region's inventory and checksums with the primary; exit 3 "
                + "on differences. --repair copies what is missing or differs and deletes what the primary "
                + "no longer has.")
public final class ReplicationVerifyCommand implements Callable<Integer> {
    @Mixin
    ReplicationTarget target;

    @Mixin
    OutputOptions output;

    @Option(names = "--repair", description = "Fix what validation finds.")
    boolean repair;

    @Override
    public Integer call() throws Exception {
        ReplicationConfig c = target.config();
        BlobStore primary = target.primary();
        List<Replicator.Verification> out = new ArrayList<>();
        try (SignalCancellation signal = output.cancelOnSignal()) {
            for (ReplicationConfig.Region r : target.selected(c)) {
                BlobStore secondary = RepositoryAccess.openRegion(r, () -> false);
                out.add(new Replicator(primary, secondary, r).verify(repair, signal.cancellation()));
            }
        }
        if (output.json()) {
            output.printJson(out);
        } else {
            for (Replicator.Verification v : out) {
                System.out.printf(
                        "%s: %s (%d missing, %d differing, %d extra%s%s)%n",
                        v.name(),
                        v.ok() ? "in sync" : "DIFFERS",
                        v.missing().size(),
                        v.differing().size(),
                        v.extra().size(),
                        v.retained().isEmpty()
                                ? ""
                                : ", " + v.retained().size() + " left to the write-once region's retention",
                        repair ? ", " + v.repaired() + " repaired" : "");
                v.missing().stream().limit(20).forEach(k -> System.out.println("  missing   " + k));
                v.differing().stream().limit(20).forEach(k -> System.out.println("  differs   " + k));
                v.extra().stream().limit(20).forEach(k -> System.out.println("  extra     " + k));
            }
        }
        return out.stream().allMatch(Replicator.Verification::ok) || repair ? 0 : 3;
    }
}
