package dev.lifeboat.engine.postgres;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Objects;

/**
 * A check an operator adds to a validation: a query whose first column of the first row must match {@code expect},
 * e.g. {@code select count(*) from orders where created_at > now() - interval '1 day'} with {@code > 0}. It runs in a
 * read-only transaction that is rolled back, so the copy stays as restored.
 *
 * <p>{@code expect} is a value, optionally after one of {@code = != <> > >= < <=} ({@code =} when none is given).
 * Both sides are compared as numbers when both are numbers, else as text (where only {@code =} and {@code !=} apply);
 * a value in single quotes is always text; {@code null} expects no row or SQL NULL.
 *
 * @param name     how reports name it (defaults to the query)
 * @param database the database it runs in ({@code postgres} when not given)
 */
public record UserAssertion(String name, String database, String sql, String expect) {
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
        expect = expect.strip();
        Expectation.parse(expect); // refused now, not after a restore
    }

    /** What one assertion found: {@code actual} is the query's value (null for no row or SQL NULL). */
    public record Result(
            String name, String database, String sql, String expect, String actual, boolean passed, String error) {}

    /** Runs the query on {@code c} (left in autocommit) and judges it; a failing query is a failed assertion. */
    public Result check(Connection c) {
        String actual = null;
        try {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.execute("set transaction read only");
                try (ResultSet rs = st.executeQuery(sql)) {
                    if (rs.getMetaData().getColumnCount() < 1) {
                        return result(null, false, "the query returns no column");
                    }
                    if (rs.next()) {
                        actual = rs.getString(1);
                    }
                }
            } finally {
                c.rollback();
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            return result(null, false, e.getMessage());
        }
        return result(actual, Expectation.parse(expect).matches(actual), null);
    }

    private Result result(String actual, boolean passed, String error) {
        return new Result(name, database, sql, expect, actual, passed, error);
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

        boolean matches(String actual) {
            if (value == null || actual == null) {
                boolean same = Objects.equals(value, actual);
                return op.equals("=") ? same : op.equals("!=") && !same;
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
