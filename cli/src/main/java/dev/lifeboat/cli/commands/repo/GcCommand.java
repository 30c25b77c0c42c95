package dev.lifeboat.cli.commands.repo;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.cli.output.Sizes;
import dev.lifeboat.repository.GarbageCollector;
import dev.lifeboat.repository.Repository;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "gc", description = "Delete data no backup references (e.g. left by an interrupted backup).")
public final class GcCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Mixin
    OutputOptions output;

    @Option(names = "--dry-run", description = "Only report what would be deleted.")
    boolean dryRun;

    @Override
    public Integer call() throws Exception {
        repo.refuseFromRegion("gc");
        Repository r = repo.open();
        GarbageCollector.Result res = new GarbageCollector(r).collect(dryRun);
        if (output.json()) {
            output.printJson(res);
        } else {
            System.out.printf(
                    "%s %d unreferenced pack(s), %s; %d pack(s) in use%n",
                    dryRun ? "would delete" : "deleted",
                    res.packsDeleted(),
                    Sizes.format(res.bytesFreed()),
                    res.packsKept());
        }
        return 0;
    }
}
