package dev.lifeboat.controller.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.List;
import java.util.stream.IntStream;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class SvgChartTest {
    private static final List<Instant> TIMES = IntStream.range(0, 6)
            .mapToObj(i -> Instant.parse("2026-12-06T02:00:00Z").plusSeconds(60L * i))
            .toList();

    @Test
    void aLineStartsAtTheFirstMeasuredStepAndBreaksWhereNothingWasMeasured() {
        double nan = Double.NaN;
        String svg = SvgChart.lines(
                "rpo",
                TIMES,
                List.of(new SvgChart.Line("eu", "s0", new double[] {nan, nan, 10, nan, 20, 30})),
                25.0,
                v -> Html.seconds(v));
        assertThat(svg).contains("data-points=\"4\"").contains("data-last=\"30.000\"");
        String d = svg.replaceAll("(?s).*<path[^>]* d=\"([^\"]*)\".*", "$1");
        // 10 s, a gap, then 20 s and 30 s: two pieces
        assertThat(d.split("M")).hasSize(3);
        assertThat(d).contains("L");
        assertThat(svg).contains("class=\"target\"").contains("target 25 s");
        // the axis starts at the first measured step and ends at the last one, in seconds for a short span
        assertThat(svg).contains(">02:02:00 UTC<").contains(">02:05:00 UTC<").doesNotContain(">02:00:00 UTC<");
    }

    @Test
    void aTargetFarAboveTheValuesIsNamedNotDrawn() {
        String svg = SvgChart.lines(
                "rpo",
                TIMES,
                List.of(new SvgChart.Line("eu", "s0", new double[] {1, 2, 1, 2, 1, 2})),
                3600.0,
                v -> Html.seconds(v));
        assertThat(svg).doesNotContain("<line class=\"target\"").contains("target 60.0 min (far above: not drawn)");
    }

    @Test
    void nothingMeasuredSaysSo() {
        double nan = Double.NaN;
        String svg = SvgChart.lines(
                "rpo",
                TIMES,
                List.of(new SvgChart.Line("eu", "s0", new double[] {nan, nan, nan, nan, nan, nan})),
                null,
                v -> Html.seconds(v));
        assertThat(svg).contains("nothing measured yet").contains("data-points=\"0\"");
    }

    @Test
    void barsCarryEachPartsValueAndScaleToTheLongest() {
        String svg = SvgChart.bars(
                "phases",
                List.of("fetch", "replay"),
                List.of("s0", "s1"),
                List.of(new SvgChart.Bar("d1", new double[] {6, 2}), new SvgChart.Bar("d2", new double[] {3, 1})),
                10.0,
                v -> Html.seconds(v));
        assertThat(svg).contains("data-part=\"fetch\" data-value=\"6.000\"").contains("data-value=\"1.000\"");
        double fetch1 = width(svg, 0);
        double fetch2 = width(svg, 2);
        assertThat(fetch1).isCloseTo(2 * fetch2, Offset.offset(0.2));
        assertThat(svg).contains("<line class=\"target\"");
    }

    private static double width(String svg, int rect) {
        String[] parts = svg.split("<rect ");
        return Double.parseDouble(parts[rect + 1].replaceAll("(?s).*? width=\"([^\"]+)\".*", "$1"));
    }
}
