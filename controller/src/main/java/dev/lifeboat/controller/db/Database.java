package dev.lifeboat.controller.db;

import java.nio.file.Path;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.h2.jdbcx.JdbcConnectionPool;
import org.postgresql.ds.PGSimpleDataSource;

/** The controller's state: embedded H2 by default, PostgreSQL in production; the schema comes from Flyway migrations.
 * */
public final class Database implements AutoCloseable {
    private final DataSource dataSource;
    private final AutoCloseable closer;
    private final String url;

    private Database(DataSource ds, AutoCloseable closer, String url) {
        this.dataSource = ds;
        this.closer = closer;
        this.url = url;
    }

    /** Opens (and migrates) the database; a null url means an H2 file under stateDir. */
    public static Database open(String url, String user, String password, Path stateDir) {
        Database db;
        if (url == null || url.startsWith("jdbc:h2:")) {
            // WRITE_DELAY=0: a commit reaches the file before it returns, so a killed controller loses no job, alert or
            // audit entry it acknowledged (H2 otherwise keeps up to a second of commits in memory)
            String u = url != null
                    ? url
                    : "jdbc:h2:file:" + stateDir.resolve("controller").toAbsolutePath()
                            + ";DB_CLOSE_ON_EXIT=FALSE;WRITE_DELAY=0";
            JdbcConnectionPool pool =
                    JdbcConnectionPool.create(u, user == null ? "lifeboat" : user, password == null ? "" : password);
            pool.setMaxConnections(32);
            db = new Database(pool, pool::dispose, u);
        } else if (url.startsWith("jdbc:postgresql:")) {
            PGSimpleDataSource ds = new PGSimpleDataSource();
            ds.setUrl(url);
            if (user != null) {
                ds.setUser(user);
            }
            if (password != null) {
                ds.setPassword(password);
            }
            db = new Database(ds, () -> {}, url);
        } else {
            throw new IllegalArgumentException("database url must be jdbc:h2:… or jdbc:postgresql:…, not " + url);
        }
        Flyway.configure()
                .dataSource(db.dataSource)
                .locations("classpath:db/migration")
                .load()
                .migrate();
        return db;
    }

    public DataSource dataSource() {
        return dataSource;
    }

    public boolean isPostgres() {
        return url.startsWith("jdbc:postgresql:");
    }

    @Override
    public void close() throws Exception {
        closer.close();
    }
}
