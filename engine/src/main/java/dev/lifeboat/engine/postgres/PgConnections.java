package dev.lifeboat.engine.postgres;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;
import org.postgresql.PGProperty;

/**
 * Connects with pgjdbc over TCP, or over the server's Unix-domain socket (via junixsocket) when the host is a
 * directory path, as libpq does. The socket is the default on the DB host: it needs no password with peer auth.
 */
public record PgConnections(String host, int port, String user, String password) {

    public static PgConnections socket(String socketDir, int port, String user) {
        return new PgConnections(socketDir, port, user, System.getenv("PGPASSWORD"));
    }

    public boolean isSocket() {
        return host.startsWith("/");
    }

    public Connection open(String database) throws SQLException {
        return connect(database, new Properties());
    }

    /**
     * A walsender connection for the streaming replication protocol (replication=database, simple query mode), named
     * {@code applicationName} so that it can be listed in synchronous_standby_names.
     */
    public Connection openReplication(String applicationName) throws SQLException {
        Properties extra = new Properties();
        PGProperty.REPLICATION.set(extra, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(extra, "9.4");
        PGProperty.PREFER_QUERY_MODE.set(extra, "simple");
        PGProperty.SOCKET_TIMEOUT.set(extra, 60);
        extra.setProperty("ApplicationName", applicationName);
        return connect("postgres", extra);
    }

    private Connection connect(String database, Properties extra) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        if (password != null) {
            props.setProperty("password", password);
        }
        props.setProperty("ApplicationName", "lifeboat");
        props.setProperty("connectTimeout", "10");
        props.setProperty("tcpKeepAlive", "true");
        props.putAll(extra);
        String db = URLEncoder.encode(database, StandardCharsets.UTF_8);
        String url;
        if (isSocket()) {
            props.setProperty("socketFactory", "org.newsclub.net.unix.AFUNIXSocketFactory$FactoryArg");
            props.setProperty("socketFactoryArg", host + "/.s.PGSQL." + port);
            props.setProperty("sslmode", "disable");
            url = "jdbc:postgresql://localhost:" + port + "/" + db;
        } else {
            url = "jdbc:postgresql://" + host + ":" + port + "/" + db;
        }
        return DriverManager.getConnection(url, props);
    }

    public String describe() {
        return (isSocket() ? "socket " + host + "/.s.PGSQL." + port : host + ":" + port) + " as " + user;
    }
}
