package dev.lifeboat.cli;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RepositoryLock;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;

@Command(name = "unlock", description = "Remove repository locks left by processes that are gone (e.g. on a host that died).")
final class UnlockCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Override
    public Integer call() throws Exception {
        Repository r = repo.open();
        for (RepositoryLock.Holder h : RepositoryLock.all(r)) {
            System.out.println("removing lock held by " + h.describe());
        }
        int n = RepositoryLock.breakAll(r);
        System.out.println("removed " + n + " lock(s)");
        return 0;
    }
}
