package dev.lifeboat.repository;

import dev.lifeboat.storage.local.LocalBlobStore;
import java.nio.file.Path;

/**
 * A separate process that takes a repository's exclusive lock, prints {@code HELD <token>} and holds the lock until it
 * is killed. Tests run it in another JVM, e.g. inside a new PID namespace, to leave a lock behind. It never releases
 * the lock itself: a release on standard input's end would race the kill (the JDK closes a destroyed process's pipes
 * while the SIGKILL is still on its way) and could remove the lock a test expects to be left behind.
 */
public final class LockHolderMain {
    private LockHolderMain() {}

    public static void main(String[] args) throws Exception {
        Repository repo = Repository.open(new LocalBlobStore(Path.of(args[0])), null);
        RepositoryLock lock = RepositoryLock.acquire(
                repo, RepositoryLock.Mode.APPEND, "backup", args.length > 1 ? args[1] : "held by a child JVM");
        System.out.println("HELD " + lock.token() + " " + RepositoryLock.SELF.pidNamespace() + " pid "
                + RepositoryLock.SELF.pid());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE); // until killed; the renewer thread keeps the lease fresh meanwhile
    }
}
