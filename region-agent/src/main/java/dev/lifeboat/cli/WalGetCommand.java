package dev.lifeboat.cli;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.concurrent.Callable;

@Command(name = "wal-get", description = "Fetch one archived WAL file (for restore_command = 'lifeboat wal-get --config FILE %f %p'). "
        + "Exits 1 when the file is not archived, as PostgreSQL expects at the end of the archive.")
final class WalGetCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Parameters(index = "0", paramLabel = "WAL_NAME", description = "WAL file name (%f).")
    String name;

    @Parameters(index = "1", paramLabel = "DEST", description = "Where to write it (%p, relative to PGDATA).")
    Path dest;

    @Override
    public Integer call() throws Exception {
        if (!WalArchive.isWalFileName(name)) {
            throw new IllegalArgumentException("'" + name + "' is not a WAL file name");
        }
        Repository r = repo.open();
        Optional<byte[]> data = new WalArchive(r).read(name);
        if (data.isEmpty()) {
            if (repo.verbose) {
                System.err.println(name + " is not in the archive");
            }
            return 1;
        }
        Path abs = dest.toAbsolutePath();
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".lifeboat-tmp");
        Files.write(tmp, data.get());
        Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return 0;
    }
}
