package dev.lifeboat.engine.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
    void nullMeansNoRowOrSqlNull() {
        assertThat(matches("null", null)).isTrue();
        assertThat(matches("null", "1")).isFalse();
        assertThat(matches("!= null", "1")).isTrue();
        assertThat(matches("!= null", null)).isFalse();
        assertThat(matches("> 0", null)).isFalse();
        assertThat(matches("= ''", "")).isTrue();
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
