package dev.lifeboat.cli;

import dev.lifeboat.repository.GarbageCollector;
import dev.lifeboat.repository.Repository;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "rebuild-index", description = "Rebuild the repository index from the packs' own trailers.")
final class RebuildIndexCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Override
    public Integer call() throws Exception {
        Repository r = repo.open();
        int packs = new GarbageCollector(r).rebuildIndex();
        System.out.println("rebuilt the index of " + r.uri() + " from " + packs + " pack(s)");
        return 0;
    }
}
