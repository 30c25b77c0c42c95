package dev.lifeboat.cli;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "wal-push", description = "Archive one WAL file (for archive_command = 'lifeboat wal-push --config FILE %p'). "
        + "Exits 0 only once the file is durable in the repository.")
final class WalPushCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Parameters(index = "0", paramLabel = "WAL_PATH", description = "Path of the WAL file (relative to PGDATA, as %p gives it).")
    Path walPath;

    @Override
    public Integer call() throws Exception {
        String name = walPath.getFileName().toString();
        if (!WalArchive.isWalFileName(name)) {
            throw new IllegalArgumentException(walPath + " is not a WAL segment, history or backup history file");
        }
        byte[] content = Files.readAllBytes(walPath);
        Repository r = repo.open();
        WalArchive.PushResult res = new WalArchive(r).push(name, content);
        if (repo.verbose) {
            System.err.println(name + ": " + res);
        }
        return 0;
    }
}
