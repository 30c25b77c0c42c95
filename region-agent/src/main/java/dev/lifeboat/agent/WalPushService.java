package dev.lifeboat.agent;

import dev.lifeboat.common.Backoff;
import dev.lifeboat.engine.postgres.WalSpool;
import java.io.Closeable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a WAL pusher running for every database with {@code wal-push-spool}: archive_command
 * ({@code lifeboat wal-push --spool-dir DIR %p}) is then answered by it through the launcher, without a JVM start
 * per segment, and it archives ready segments ahead of PostgreSQL's requests. A pusher that fails is started again
 * after a backoff; archive_command falls back to the JVM path meanwhile.
 */
final class WalPushService implements Closeable {
    private static final Logger log = LoggerFactory.getLogger(WalPushService.class);
    /** How long a pusher may go without work before it would stop on its own; the agent's run until it stops. */
    private static final Duration FOREVER = Duration.ofDays(3650);

    private static final Backoff RESTART = Backoff.exponential(Duration.ofSeconds(1), Duration.ofMinutes(1));

    private final List<Thread> threads = new ArrayList<>();

    WalPushService(List<AgentConfig.Database> databases) {
        for (AgentConfig.Database db : databases) {
            if (db.walPushSpool() != null) {
                threads.add(Thread.ofPlatform()
                        .daemon()
                        .name("wal-pusher " + db.name())
                        .start(() -> run(db)));
            }
        }
    }

    private static void run(AgentConfig.Database db) {
        Backoff.Attempts attempts = RESTART.start();
        while (!Thread.currentThread().isInterrupted()) {
            long started = System.nanoTime();
            try {
                new WalSpool(db.walPushSpool())
                        .runPusher(
                                DatabaseAccess.openRepository(db),
                                db.pgdata().resolve("pg_wal"),
                                db.pgdata(),
                                db.parallel(),
                                FOREVER,
                                // it serves the settings a JVM run of wal-push binds to this database's repository
                                new WalSpool.Serving(db.replication(), null, true, false));
                // returned at once: another pusher holds this spool (e.g. one an earlier wal-push started)
                log.info(
                        "database {}: another process serves wal-push spool {}; checking again",
                        db.name(),
                        db.walPushSpool());
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                log.warn("database {}: WAL pusher for {} stopped: {}", db.name(), db.walPushSpool(), e.getMessage());
            }
            if (System.nanoTime() - started > Duration.ofMinutes(1).toNanos()) {
                attempts = RESTART.start(); // it ran a while: start again soon, as after a first failure
            }
            try {
                if (!attempts.pause(Backoff.NEVER)) {
                    attempts = RESTART.start();
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public void close() {
        threads.forEach(Thread::interrupt);
        for (Thread t : threads) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
