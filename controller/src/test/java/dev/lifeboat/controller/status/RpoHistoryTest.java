package dev.lifeboat.controller.status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.controller.status.SlaStatus.DatabaseStatus;
import dev.lifeboat.controller.status.SlaStatus.RegionRpo;
import dev.lifeboat.controller.status.SlaStatus.RtoEstimate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RpoHistoryTest {
    private static final Instant T0 = Instant.parse("2026-12-06T02:00:00Z");

    private static DatabaseStatus db(String name, RegionRpo... regions) {
        return new DatabaseStatus(
                name,
                "agent",
                "connected",
                "eu",
                "p",
                "GOLD",
                60,
                600,
                null,
                false,
                List.of(regions),
                new RtoEstimate(null, null, null, null, null, null, null),
                false,
                false,
                null,
                null,
                List.of());
    }

    private static RegionRpo region(String name, Double rpo, Long lag) {
        return new RegionRpo(name, name.equals("eu"), rpo, lag, T0, false, rpo != null && rpo <= 60);
    }

    @Test
    void aStepKeepsTheWorstValueSeenInItAndStepsAreAlignedToTheClock() {
        RpoHistory h = new RpoHistory(Duration.ofSeconds(10));
        h.record(List.of(db("orders", region("eu", 5.0, 100L))), T0.plusSeconds(1));
        h.record(List.of(db("orders", region("eu", 40.0, 50L))), T0.plusSeconds(4));
        h.record(List.of(db("orders", region("eu", 2.0, 900L))), T0.plusSeconds(9));
        h.record(List.of(db("orders", region("eu", 3.0, 10L))), T0.plusSeconds(12));

        List<RpoHistory.Point> eu = h.of("orders", T0.plusSeconds(15)).get("eu");
        assertThat(eu).hasSize(RpoHistory.POINTS);
        RpoHistory.Point first = eu.get(RpoHistory.POINTS - 2);
        assertThat(first.at()).isEqualTo(T0);
        assertThat(first.rpoSeconds()).isEqualTo(40.0);
        assertThat(first.lagBytes()).isEqualTo(900.0);
        RpoHistory.Point second = eu.getLast();
        assertThat(second.at()).isEqualTo(T0.plusSeconds(10));
        assertThat(second.rpoSeconds()).isEqualTo(3.0);
        assertThat(eu.get(RpoHistory.POINTS - 3).rpoSeconds()).isNaN();
    }

    @Test
    void aRegionShowsTheWorstRpoAndTheSummedLagOfItsDatabases() {
        RpoHistory h = new RpoHistory(Duration.ofSeconds(60));
        h.record(
                List.of(
                        db("orders", region("eu", 5.0, 1000L), region("us", 90.0, 4000L)),
                        db("billing", region("eu", 20.0, 300L), region("us", null, null))),
                T0);

        Map<String, List<RpoHistory.Point>> regions = h.byRegion(T0.plusSeconds(30));
        assertThat(regions).containsOnlyKeys("eu", "us");
        assertThat(regions.get("eu").getLast().rpoSeconds()).isEqualTo(20.0);
        assertThat(regions.get("eu").getLast().lagBytes()).isEqualTo(1300.0);
        assertThat(regions.get("us").getLast().rpoSeconds()).isEqualTo(90.0);
        assertThat(regions.get("us").getLast().lagBytes()).isEqualTo(4000.0);
        assertThat(regions.get("us").get(RpoHistory.POINTS - 2).rpoSeconds()).isNaN();
        assertThat(h.of("billing", T0).get("us").getLast().rpoSeconds()).isNaN();
    }

    @Test
    void stepsOlderThanTheRingAreForgottenNotShownAsNew() {
        RpoHistory h = new RpoHistory(Duration.ofSeconds(1));
        h.record(List.of(db("orders", region("eu", 7.0, 1L))), T0);
        // the slot T0 used is reused exactly POINTS steps later
        h.record(List.of(db("orders", region("eu", 1.0, 1L))), T0.plusSeconds(RpoHistory.POINTS));

        List<RpoHistory.Point> eu =
                h.of("orders", T0.plusSeconds(RpoHistory.POINTS)).get("eu");
        assertThat(eu.getLast().rpoSeconds()).isEqualTo(1.0);
        assertThat(eu.stream().filter(p -> !Double.isNaN(p.rpoSeconds()))).hasSize(1);
        // read later still: the old step is gone and the new one has moved back
        List<RpoHistory.Point> later =
                h.of("orders", T0.plusSeconds(RpoHistory.POINTS + 5)).get("eu");
        assertThat(later.get(RpoHistory.POINTS - 6).rpoSeconds()).isEqualTo(1.0);
        assertThat(later.stream().filter(p -> !Double.isNaN(p.rpoSeconds()))).hasSize(1);
    }

    @Test
    void aStepBelowOneSecondIsRefused() {
        assertThatThrownBy(() -> new RpoHistory(Duration.ofMillis(500)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("history-step");
    }
}
