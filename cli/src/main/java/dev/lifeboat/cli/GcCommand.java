package dev.lifeboat.cli;

import dev.lifeboat.repository.GarbageCollector;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.util.Json;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "gc", description = "Delete data no backup references (e.g. left by an interrupted backup).")
final class GcCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Option(names = "--dry-run", description = "Only report what would be deleted.")
    boolean dryRun;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Repository r = repo.open();
        GarbageCollector.Result res = new GarbageCollector(r).collect(dryRun);
        if (json) {
            System.out.println(Json.pretty(res));
        } else {
            System.out.printf(
                    "%s %d unreferenced pack(s), %s; %d pack(s) in use%n",
                    dryRun ? "would delete" : "deleted",
                    res.packsDeleted(),
                    ListCommand.size(res.bytesFreed()),
                    res.packsKept());
        }
        return 0;
    }
}
