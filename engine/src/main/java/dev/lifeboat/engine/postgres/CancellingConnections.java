package dev.lifeboat.engine.postgres;

import dev.lifeboat.progress.Cancellation;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.postgresql.PGConnection;

/**
 * Connections whose running query is cancelled on the server once the operation is: a check that runs for an hour
 * (amcheck on a large table, an operator's query) must not outlive a cancelled drill or a stopping agent. Checked every
 * 200 ms; each open connection gets a query cancel (PostgreSQL's cancel request) for as long as the operation stays
 * cancelled.
 */
final class CancellingConnections implements AutoCloseable {
    private final PgConnections conns;
    private final Set<Connection> open = ConcurrentHashMap.newKeySet();
    private final Thread watcher;

    CancellingConnections(PgConnections conns, Cancellation cancel) {
        this.conns = conns;
        this.watcher = Thread.ofVirtual().name("validate-cancel").start(() -> {
            try {
                while (true) {
                    Thread.sleep(200);
                    open.removeIf(CancellingConnections::isClosed);
                    if (cancel.isCancelled()) {
                        open.forEach(CancellingConnections::cancelQuery);
                    }
                }
            } catch (InterruptedException e) {
                // closed
            }
        });
    }

    Connection open(String database) throws SQLException {
        Connection c = conns.open(database);
        open.add(c);
        return c;
    }

    /** The same server without the watch: for clean-up that must run even though the operation was cancelled. */
    PgConnections unwatched() {
        return conns;
    }

    PgConnections as(String user) {
        return new PgConnections(conns.host(), conns.port(), user, conns.password());
    }

    private static boolean isClosed(Connection c) {
        try {
            return c.isClosed();
        } catch (SQLException e) {
            return true;
        }
    }

    private static void cancelQuery(Connection c) {
        try {
            c.unwrap(PGConnection.class).cancelQuery();
        } catch (SQLException e) {
            // closing meanwhile: nothing left to cancel
        }
    }

    @Override
    public void close() {
        watcher.interrupt();
    }
}
