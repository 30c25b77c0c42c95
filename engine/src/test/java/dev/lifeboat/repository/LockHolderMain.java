package dev.lifeboat.repository;

import dev.lifeboat.storage.local.LocalBlobStore;
import java.nio.file.Path;

/**
 * A separate process that takes a repository's exclusive lock, prints {@code HELD <token>} and holds the lock until
 * its standard input closes (then releases it). Tests run it in another JVM, e.g. inside a new PID namespace.
 */
public final class LockHolderMain {
    private LockHolderMain() {}

    public static void main(String[] args) throws Exception {
        Repository repo = Repository.open(new LocalBlobStore(Path.of(args[0])), null);
        try (RepositoryLock lock = RepositoryLock.acquire(
                repo, RepositoryLock.Mode.APPEND, "backup", args.length > 1 ? args[1] : "held by a child JVM")) {
            System.out.println("HELD " + lock.token() + " " + RepositoryLock.SELF.pidNamespace() + " pid "
                    + RepositoryLock.SELF.pid());
            System.out.flush();
            while (System.in.read() >= 0) {
                // hold until stdin closes
            }
        }
    }
}
