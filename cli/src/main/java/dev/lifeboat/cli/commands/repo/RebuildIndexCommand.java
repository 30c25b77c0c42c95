package dev.lifeboat.cli.commands.repo;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.repository.GarbageCollector;
import dev.lifeboat.repository.Repository;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "rebuild-index", description = "Rebuild the repository index from the packs' own trailers.")
public final class RebuildIndexCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Mixin
    OutputOptions output;

    @Override
    public Integer call() throws Exception {
        repo.refuseFromRegion("rebuild-index");
        Repository r = repo.open();
        int packs = new GarbageCollector(r).rebuildIndex();
        if (output.json()) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("repository", r.uri());
            out.put("packs", packs);
            output.printJson(out);
        } else {
            System.out.println("rebuilt the index of " + r.uri() + " from " + packs + " pack(s)");
        }
        return 0;
    }
}
