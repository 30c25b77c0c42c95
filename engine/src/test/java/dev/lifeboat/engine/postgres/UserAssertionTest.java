package dev.lifeboat.engine.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class UserAssertionTest {
    private static boolean matches(String expect, String actual) {
        return UserAssertion.Expectation.parse(expect).matches(actual);
    }

    @Test
    void comparesNumbersAsNumbersAndTextAsText() {
        assertThat(matches("> 0", "12")).isTrue();
        assertThat(matches("> 0", "0")).isFalse();
        assertThat(matches(">= 12", "12.0")).isTrue();
        assertThat(matches("<= 1.5", "2")).isFalse();
        assertThat(matches("< 10", "9")).isTrue();
        assertThat(matches("5", "5.00"))
                .as("no operator means equal, numerically")
                .isTrue();
        assertThat(matches("= 5", "6")).isFalse();
        assertThat(matches("!= 5", "6")).isTrue();
        assertThat(matches("<> 5", "5")).isFalse();
        assertThat(matches("on", "on")).isTrue();
        assertThat(matches("= 'on'", "off")).isFalse();
        assertThat(matches("'007'", "7")).as("a quoted value is text").isFalse();
        assertThat(matches("'007'", "007")).isTrue();
        assertThat(matches("'null'", "null")).isTrue();
        assertThat(matches("'null'", null)).isFalse();
        assertThat(matches("> 0", "many"))
                .as("an ordering against a non-number fails")
                .isFalse();
    }

    @Test
    void sqlNullMatchesOnlyEqualsNull() {
        assertThat(matches("null", null)).isTrue();
        assertThat(matches("= null", null)).isTrue();
        assertThat(matches("null", "1")).isFalse();
        assertThat(matches("!= null", "1")).isTrue();
        assertThat(matches("!= null", null)).isFalse();
        assertThat(matches("> 0", null)).isFalse();
        assertThat(matches("!= 5", null))
                .as("NULL is not 'a value other than 5'")
                .isFalse();
        assertThat(matches("<> 'shipped'", null)).isFalse();
        assertThat(matches("= 'null'", null)).isFalse();
        assertThat(matches("= ''", "")).isTrue();
    }

    @Test
    void anAssertionIsOneQuery() {
        assertThat(new UserAssertion(null, null, "select 1;  ", "1").sql()).isEqualTo("select 1");
        assertThat(new UserAssertion(null, null, "select 1;;", "1").sql()).isEqualTo("select 1");
        for (String one : new String[] {
            "select ';' as x",
            "select 'it''s; fine'",
            "select E'a\\';b'",
            "select \"odd;name\" from t",
            "select 1 -- trailing; comment",
            "select /* ; */ 1",
            "select /* /* nested */ ; */ 1",
            "select $$;$$",
            "select $tag$ ; $ $tag$",
            "select a$b; from t".replace("; from", " from"),
        }) {
            assertThat(new UserAssertion(null, null, one, "1").sql()).as(one).isEqualTo(one);
        }
        for (String two : new String[] {
            "commit; create table t()",
            "select 1; copy (select 1) to program 'id'",
            "select 'a'; select 'b'",
            "select E'\\''; drop table t; select 1",
            "select 1 /* */; select 2",
            "select $$x$$; select 2",
            "select 1 --\n; select 2",
            "select 1 --x\r; select 2",
        }) {
            assertThatThrownBy(() -> new UserAssertion("x", null, two, "1"))
                    .as(two)
                    .hasMessageContaining("more than one statement");
        }
    }

    @Test
    void theQueryRunsAsASubqueryOfWhichOneRowIsRead() {
        assertThat(UserAssertion.wrapped("select 1 -- note"))
                .isEqualTo("select * from (\nselect 1 -- note\n) as assertion limit 1");
    }

    @Test
    void timeoutDefaultsAndIsBounded() {
        assertThat(new UserAssertion(null, null, "select 1", "1").timeout()).isEqualTo(UserAssertion.DEFAULT_TIMEOUT);
        assertThat(new UserAssertion(null, null, "select 1", "1", Duration.ofSeconds(3)).timeout())
                .isEqualTo(Duration.ofSeconds(3));
        assertThatThrownBy(() -> new UserAssertion(null, null, "select 1", "1", Duration.ZERO))
                .hasMessageContaining("timeout");
    }

    @Test
    void badExpectationsAreRefusedUpFront() {
        assertThatThrownBy(() -> new UserAssertion(null, null, "select 1", "> many"))
                .hasMessageContaining("compares numbers");
        assertThatThrownBy(() -> new UserAssertion(null, null, "select 1", ">="))
                .hasMessageContaining("no value");
        assertThatThrownBy(() -> new UserAssertion(null, null, " ", "1")).hasMessageContaining("needs a query");
        assertThatThrownBy(() -> new UserAssertion(null, null, "select 1", null))
                .hasMessageContaining("needs an expected result");
        UserAssertion a = new UserAssertion(null, null, " select 1 ", " > 0 ");
        assertThat(a.name()).isEqualTo("select 1");
        assertThat(a.database()).isEqualTo("postgres");
        assertThat(a.expect()).isEqualTo("> 0");
    }
}
