package dev.lifeboat.engine.postgres;

import dev.lifeboat.progress.Cancellation;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A check an operator adds to a validation: a query whose first column of the first row must match {@code expect},
 * e.g. {@code select count(*) from orders where created_at > now() - interval '1 day'} with {@code > 0}.
 *
 * <p>It must not be able to change the copy it judges, nor reach the host: the query is one statement (a trailing
 * semicolon is allowed, a second statement is refused when the assertion is made) and runs as a subquery, {@code select
 * * from (QUERY) as assertion}, so only a query ({@code SELECT}, {@code VALUES}, {@code TABLE}, {@code WITH … SELECT})
 * can run, no DML or utility statement; the validator runs it as a login role it creates for the purpose with only
 * {@code pg_read_all_data} (no superuser: no {@code COPY … TO PROGRAM}, no server files), in a read-only transaction
 * that is rolled back, under a {@code statement_timeout} and {@code lock_timeout} of {@code timeout}, and cancels it
 * when the operation is cancelled.
 *
 * <p>{@code expect} is a value, optionally after one of {@code = != <> > >= < <=} ({@code =} when none is given).
 * Both sides are compared as numbers when both are numbers, else as text (where only {@code =} and {@code !=} apply);
 * a value in single quotes is always text. {@code null} (SQL NULL) matches only {@code = null} and fails {@code !=
 * null}; any other expectation fails on NULL. A query that returns no row fails every expectation, reported as "no
 * row".
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
                try (CancelWatch w = new CancelWatch(st, cancel);
                        ResultSet rs = st.executeQuery("select * from (\n" + sql + "\n) as assertion")) {
                    if (rs.getMetaData().getColumnCount() < 1) {
                        return result(null, false, false, "the query returns no column");
                    }
                    if (rs.next()) {
                        row = true;
                        actual = rs.getString(1);
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

    /**
     * The query without trailing semicolons; refuses a {@code ;} elsewhere outside quotes, quoted identifiers,
     * dollar quotes and comments (a second statement, which the driver would run as its own query).
     */
    static String oneStatement(String name, String sql) {
        String q = sql.strip();
        while (q.endsWith(";")) {
            q = q.substring(0, q.length() - 1).strip();
        }
        int i = 0;
        int n = q.length();
        while (i < n) {
            char ch = q.charAt(i);
            if (ch == '\'' || ch == '"') {
                // E'...' takes backslash escapes; a doubled quote is two adjacent quoted runs, the same to this scan
                boolean escapes = ch == '\''
                        && i > 0
                        && Character.toUpperCase(q.charAt(i - 1)) == 'E'
                        && (i < 2 || !Character.isLetterOrDigit(q.charAt(i - 2)) && q.charAt(i - 2) != '_');
                int j = i + 1;
                while (j < n && q.charAt(j) != ch) {
                    j += escapes && q.charAt(j) == '\\' ? 2 : 1;
                }
                i = j + 1;
            } else if (ch == '-' && q.startsWith("--", i)) {
                int nl = q.indexOf('\n', i);
                i = nl < 0 ? n : nl + 1;
            } else if (ch == '/' && q.startsWith("/*", i)) {
                int close = q.indexOf("*/", i + 2);
                i = close < 0 ? n : close + 2;
            } else if (ch == '$' && (i == 0 || !identifierPart(q.charAt(i - 1)))) {
                Matcher m = DOLLAR_TAG.matcher(q).region(i, n);
                if (m.lookingAt()) {
                    int close = q.indexOf(m.group(), m.end());
                    i = close < 0 ? n : close + m.group().length();
                } else {
                    i++;
                }
            } else if (ch == ';') {
                throw new IllegalArgumentException("assertion '" + name + "' holds more than one statement: an "
                        + "assertion is one query (SELECT, VALUES, TABLE or WITH … SELECT)");
            } else {
                i++;
            }
        }
        return q; // a trailing line comment ends at the newline the wrapper puts after the query
    }

    private static boolean identifierPart(char c) {
        return Character.isLetterOrDigit(c) || c == '_' || c == '$';
    }

    private static final Pattern DOLLAR_TAG = Pattern.compile("\\$([A-Za-z_][A-Za-z_0-9]*)?\\$");

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
