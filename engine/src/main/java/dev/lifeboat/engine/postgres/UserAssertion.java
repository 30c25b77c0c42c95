package dev.lifeboat.engine.postgres;

import dev.lifeboat.progress.Cancellation;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Duration;
import java.util.List;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.Parser;

/**
 * A check an operator adds to a validation: a query whose first column of the first row must match {@code expect},
 * e.g. {@code select count(*) from orders where created_at > now() - interval '1 day'} with {@code > 0}.
 *
 * <p>It must not be able to change the copy it judges, nor reach the host: the query is one statement as the driver
 * parses it (a trailing semicolon is allowed, a second statement is refused when the assertion is made) and runs as a
 * subquery, {@code select * from (QUERY) as assertion limit 1}, so only a query ({@code SELECT}, {@code VALUES},
 * {@code TABLE}, {@code WITH … SELECT}) can run, no DML or utility statement, and one row is read; the validator runs
 * it as a login role it creates for the purpose that may only read (no superuser: no {@code COPY … TO PROGRAM}, no
 * server files, no password hashes), in a read-only transaction that is rolled back, under a {@code statement_timeout}
 * and {@code lock_timeout} of {@code timeout}, and cancels it when the operation is cancelled. Functions the database
 * itself defines run as they are defined: a SECURITY DEFINER function owned by a superuser keeps its powers.
 *
 * <p>{@code expect} is a value, optionally after one of {@code = != <> > >= < <=} ({@code =} when none is given).
 * Both sides are compared as numbers when both are numbers, else as text (where only {@code =} and {@code !=} apply);
 * a value in single quotes is always text; a boolean reads {@code true} or {@code false}. {@code null} (SQL NULL)
 * matches only {@code = null} and fails {@code != null}; any other expectation fails on NULL. A query that returns no
 * row fails every expectation, reported as "no row".
 *
 * @param name     how reports name it (defaults to the query)
 * @param database the database it runs in ({@code postgres} when not given)
 * @param timeout  the longest the query may run or wait for a lock ({@link #DEFAULT_TIMEOUT} when null)
 */
public record UserAssertion(String name, String database, String sql, String expect, Duration timeout) {
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

    public UserAssertion {
        if (sql == null || sql.isBlank()) {
            throw new IllegalArgumentException("an assertion needs a query (sql)");
        }
        if (expect == null || expect.isBlank()) {
            throw new IllegalArgumentException(
                    "assertion '" + sql + "' needs an expected result (expect), e.g. \"> 0\"");
        }
        database = database == null || database.isBlank() ? "postgres" : database;
        name = name == null || name.isBlank() ? sql.strip() : name;
        sql = oneStatement(name, sql);
        expect = expect.strip();
        Expectation.parse(expect); // refused now, not after a restore
        timeout = timeout == null ? DEFAULT_TIMEOUT : timeout;
        if (timeout.toMillis() < 1 || timeout.toMillis() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("assertion '" + name + "': timeout must be between 1 ms and 24 days");
        }
    }

    public UserAssertion(String name, String database, String sql, String expect) {
        this(name, database, sql, expect, null);
    }

    /**
     * What one assertion found: {@code row} whether the query returned one, {@code actual} its value (null for SQL NULL
     * or no row), {@code error} why the query failed (null when it ran).
     */
    public record Result(
            String name,
            String database,
            String sql,
            String expect,
            String actual,
            boolean row,
            boolean passed,
            String error) {}

    /**
     * Runs the query on {@code c} (a connection as the validator's read-only role, left in autocommit) and judges it;
     * a failing query is a failed assertion. The query is cancelled on the server when {@code cancel} is.
     */
    public Result check(Connection c, Cancellation cancel) {
        String actual = null;
        boolean row = false;
        try {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.execute("set transaction read only");
                st.execute("set local statement_timeout = " + timeout.toMillis());
                st.execute("set local lock_timeout = " + timeout.toMillis());
                try {
                    requireOneStatement(
                            name, sql, c.unwrap(BaseConnection.class).getStandardConformingStrings());
                } catch (IllegalArgumentException e) {
                    return result(null, false, false, e.getMessage());
                }
                try (CancelWatch w = new CancelWatch(st, cancel);
                        ResultSet rs = st.executeQuery(wrapped(sql))) {
                    if (rs.getMetaData().getColumnCount() < 1) {
                        return result(null, false, false, "the query returns no column");
                    }
                    if (rs.next()) {
                        row = true;
                        actual = rs.getString(1);
                        if (actual != null && rs.getMetaData().getColumnType(1) == Types.BIT) {
                            actual = rs.getBoolean(1) ? "true" : "false"; // the driver's text is t or f
                        }
                    }
                }
            } finally {
                c.rollback();
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            return result(null, false, false, e.getMessage());
        }
        return result(actual, row, row && Expectation.parse(expect).matches(actual), null);
    }

    /** This assertion failed without a value: its query could not run ({@code error} says why). */
    public Result failed(String error) {
        return result(null, false, false, error);
    }

    private Result result(String actual, boolean row, boolean passed, String error) {
        return new Result(name, database, sql, expect, actual, row, passed, error);
    }

    /** Cancels the running statement on the server once {@code cancel} is set (checked every 200 ms). */
    private static final class CancelWatch implements AutoCloseable {
        private final Thread watcher;

        CancelWatch(Statement st, Cancellation cancel) {
            watcher = Thread.ofVirtual().name("assertion-cancel").start(() -> {
                try {
                    while (!cancel.isCancelled()) {
                        Thread.sleep(200);
                    }
                    st.cancel();
                } catch (InterruptedException e) {
                    // the query ended first
                } catch (SQLException e) {
                    // the statement is closing; nothing left to cancel
                }
            });
        }

        @Override
        public void close() {
            watcher.interrupt();
        }
    }

    /** What runs: the query as a subquery (so only a query can run), of which one row is read. */
    static String wrapped(String query) {
        return "select * from (\n" + query + "\n) as assertion limit 1";
    }

    /**
     * The query without trailing semicolons; refuses it unless the driver reads it, and the wrapped query it sends,
     * as exactly one statement each (it sends each statement it splits off on its own, and does not split inside
     * parentheses). The same check runs again on the connection with the server's standard_conforming_strings; the
     * extended protocol then makes the server refuse a message that still holds two commands ("cannot insert multiple
     * commands into a prepared statement"), so nothing but the one query runs whatever the driver missed.
     */
    static String oneStatement(String name, String sql) {
        String q = sql.strip();
        while (q.endsWith(";")) {
            q = q.substring(0, q.length() - 1).strip();
        }
        requireOneStatement(name, q, true);
        return q;
    }

    private static void requireOneStatement(String name, String query, boolean standardConformingStrings) {
        for (String text : List.of(query, wrapped(query))) {
            int statements;
            try {
                statements = Parser.parseJdbcSql(text, standardConformingStrings, false, true, false, false)
                        .size();
            } catch (SQLException e) {
                throw new IllegalArgumentException("assertion '" + name + "' cannot be parsed: " + e.getMessage(), e);
            }
            if (statements != 1) {
                throw new IllegalArgumentException("assertion '" + name + "' holds more than one statement: an "
                        + "assertion is one query (SELECT, VALUES, TABLE or WITH … SELECT)");
            }
        }
    }

    /** The parsed {@code expect}: an operator and a value (null for {@code null}). */
    record Expectation(String op, String value, boolean text) {
        static Expectation parse(String expect) {
            String s = expect.strip();
            String op = "=";
            for (String o : new String[] {">=", "<=", "!=", "<>", "=", ">", "<"}) {
                if (s.startsWith(o)) {
                    op = o.equals("<>") ? "!=" : o;
                    s = s.substring(o.length()).strip();
                    break;
                }
            }
            boolean quoted = s.length() >= 2 && s.startsWith("'") && s.endsWith("'");
            if (quoted) {
                s = s.substring(1, s.length() - 1); // quotes keep a text that looks like a number or null
            } else if (s.equalsIgnoreCase("null")) {
                s = null;
            }
            if (s != null && s.isEmpty() && !quoted) {
                throw new IllegalArgumentException("expect '" + expect + "' has an operator but no value");
            }
            boolean ordering = !op.equals("=") && !op.equals("!=");
            if (ordering && (quoted || number(s) == null)) {
                throw new IllegalArgumentException(
                        "expect '" + expect + "': " + op + " compares numbers, and " + s + " is not one");
            }
            return new Expectation(op, s, quoted);
        }

        /** Whether a row's value {@code actual} (null: SQL NULL) matches. */
        boolean matches(String actual) {
            if (value == null || actual == null) {
                // null is matched only by "= null", and "!= null" by a value; SQL NULL fails any other expectation
                if (value == null) {
                    return op.equals("=") ? actual == null : op.equals("!=") && actual != null;
                }
                return false;
            }
            BigDecimal a = text ? null : number(actual);
            BigDecimal v = text ? null : number(value);
            int cmp;
            if (a != null && v != null) {
                cmp = a.compareTo(v);
            } else if (op.equals("=") || op.equals("!=")) {
                cmp = actual.equals(value) ? 0 : 1;
            } else {
                return false; // a number was expected
            }
            return switch (op) {
                case "=" -> cmp == 0;
                case "!=" -> cmp != 0;
                case ">" -> cmp > 0;
                case ">=" -> cmp >= 0;
                case "<" -> cmp < 0;
                default -> cmp <= 0;
            };
        }

        private static BigDecimal number(String s) {
            if (s == null) {
                return null;
            }
            try {
                return new BigDecimal(s.strip());
            } catch (NumberFormatException e) {
                return null;
            }
        }
    }
}
