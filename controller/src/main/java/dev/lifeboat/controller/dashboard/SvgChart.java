package dev.lifeboat.controller.dashboard;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.function.DoubleFunction;

/**
 * Charts drawn on the server as inline SVG: they need no script, come back with every in-place refresh, and carry
 * their numbers in {@code <title>} (hover) and data attributes (what the browser tests read). Two shapes: lines over
 * time for RPO and WAL lag, and stacked horizontal bars for a drill's phases.
 */
final class SvgChart {
    static final int WIDTH = 760;
    private static final int HEIGHT = 190;
    private static final int LEFT = 70;
    private static final int RIGHT = 12;
    private static final int TOP = 10;
    private static final int BOTTOM = 24;
    private static final DateTimeFormatter CLOCK =
            DateTimeFormatter.ofPattern("HH:mm").withZone(ZoneOffset.UTC);
    private static final DateTimeFormatter SECONDS =
            DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneOffset.UTC);

    /** One line: its legend name, CSS class (its colour) and a value per time step (NaN: not measured). */
    record Line(String name, String css, double[] values) {}

    /** One bar of stacked parts, labelled on its left. */
    record Bar(String label, double[] parts) {}

    /** A target more than this many times the largest value is named in the legend, not drawn. */
    private static final double SCALE_REACH = 3;

    private SvgChart() {}

    /**
     * Lines over {@code times} (one per step), starting at the first step any line measured, with a dashed
     * {@code target} (null: none); {@code unit} formats the axis. Empty when nothing was measured yet.
     */
    static String lines(String id, List<Instant> times, List<Line> lines, Double target, DoubleFunction<String> unit) {
        int first = times.size();
        double max = 0;
        for (Line l : lines) {
            for (int i = 0; i < l.values().length; i++) {
                if (!Double.isNaN(l.values()[i])) {
                    first = Math.min(first, i);
                    max = Math.max(max, l.values()[i]);
                }
            }
        }
        if (first >= times.size()) {
            return "<p class=\"hint\" data-chart=\"" + Html.esc(id) + "\" data-points=\"0\">nothing measured yet</p>";
        }
        // the target joins the scale only when it is near the values: far above, it would flatten them
        boolean targetShown = target != null && target <= Math.max(max, 1) * SCALE_REACH;
        max = Math.max(max <= 0 ? 1 : max * 1.05, targetShown ? target * 1.15 : 0);
        int n = times.size() - first;
        double plotW = WIDTH - LEFT - RIGHT;
        double plotH = HEIGHT - TOP - BOTTOM;
        StringBuilder b = open(id, HEIGHT, " data-points=\"" + n + "\"");
        for (int t = 0; t <= 2; t++) {
            double y = TOP + plotH - plotH * t / 2;
            line(b, "grid", LEFT, WIDTH - RIGHT, y, y, null);
            text(b, LEFT - 6, y + 4, "end", unit.apply(max * t / 2));
        }
        // a span under an hour reads in seconds; the outer labels stay inside the frame
        DateTimeFormatter clock =
                times.getLast().getEpochSecond() - times.get(first).getEpochSecond() < 3600 ? SECONDS : CLOCK;
        int[] ticks = n == 1 ? new int[] {0} : new int[] {0, n / 2, n - 1};
        for (int t = 0; t < ticks.length; t++) {
            double x = LEFT + (n == 1 ? 0 : plotW * ticks[t] / (n - 1));
            String anchor = t == 0 ? "start" : t == ticks.length - 1 ? "end" : "middle";
            text(b, x, HEIGHT - 6, anchor, clock.format(times.get(first + ticks[t])) + " UTC");
        }
        if (targetShown) {
            double y = TOP + plotH - plotH * target / max;
            line(b, "target", LEFT, WIDTH - RIGHT, y, y, "target " + unit.apply(target));
        }
        for (Line l : lines) {
            StringBuilder path = new StringBuilder();
            boolean pen = false;
            double last = Double.NaN;
            for (int i = 0; i < n; i++) {
                double v = l.values()[first + i];
                if (Double.isNaN(v)) {
                    pen = false;
                    continue;
                }
                double x = LEFT + (n == 1 ? 0 : plotW * i / (n - 1));
                double y = TOP + plotH - plotH * Math.min(v, max) / max;
                path.append(pen ? " L" : " M").append(fmt(x)).append(' ').append(fmt(y));
                if (n == 1) {
                    path.append(" l3 0");
                }
                pen = true;
                last = v;
            }
            b.append("<path class=\"series ")
                    .append(Html.esc(l.css()))
                    .append("\" data-series=\"")
                    .append(Html.esc(l.name()))
                    .append("\" data-last=\"")
                    .append(Double.isNaN(last) ? "" : String.format(Locale.ROOT, "%.3f", last))
                    .append("\" d=\"")
                    .append(path.toString().strip())
                    .append("\"><title>")
                    .append(Html.esc(l.name()))
                    .append(": ")
                    .append(Double.isNaN(last) ? "not measured" : Html.esc(unit.apply(last)) + " at the last step")
                    .append("</title></path>");
        }
        b.append("</svg><figcaption>");
        for (Line l : lines) {
            b.append("<span class=\"key ")
                    .append(Html.esc(l.css()))
                    .append("\">")
                    .append(Html.esc(l.name()));
            b.append("</span> ");
        }
        legendTarget(b, target, targetShown, unit);
        return b.append("</figcaption></figure>").toString();
    }

    /**
     * Horizontal bars of stacked {@code parts} (named by {@code partNames}, coloured by {@code partCss}), scaled to
     * the longest bar or the {@code limit} (a dashed line; null: none).
     */
    static String bars(
            String id,
            List<String> partNames,
            List<String> partCss,
            List<Bar> bars,
            Double limit,
            DoubleFunction<String> unit) {
        if (bars.isEmpty()) {
            return "";
        }
        double max = 0;
        for (Bar bar : bars) {
            double total = 0;
            for (double p : bar.parts()) {
                total += Math.max(0, p);
            }
            max = Math.max(max, total);
        }
        boolean limitShown = limit != null && limit <= Math.max(max, 1) * SCALE_REACH;
        max = Math.max(max <= 0 ? 1 : max * 1.05, limitShown ? limit * 1.1 : 0);
        int rowH = 22;
        int left = 170;
        int height = TOP + rowH * bars.size() + BOTTOM;
        double plotW = WIDTH - left - RIGHT;
        StringBuilder b = open(id, height, "");
        for (int r = 0; r < bars.size(); r++) {
            Bar bar = bars.get(r);
            double y = TOP + r * rowH;
            text(b, left - 6, y + 15, "end", bar.label());
            b.append("<g data-bar=\"");
            b.append(Html.esc(bar.label())).append("\">");
            double x = left;
            for (int p = 0; p < bar.parts().length; p++) {
                double v = Math.max(0, bar.parts()[p]);
                double w = plotW * v / max;
                b.append("<rect class=\"part ")
                        .append(Html.esc(partCss.get(p)))
                        .append("\" data-part=\"")
                        .append(Html.esc(partNames.get(p)))
                        .append("\" data-value=\"")
                        .append(String.format(Locale.ROOT, "%.3f", v))
                        .append("\" x=\"")
                        .append(fmt(x))
                        .append("\" y=\"")
                        .append(fmt(y + 3))
                        .append("\" width=\"")
                        .append(fmt(w))
                        .append("\" height=\"")
                        .append(rowH - 6)
                        .append("\"><title>")
                        .append(Html.esc(partNames.get(p)))
                        .append(": ")
                        .append(Html.esc(unit.apply(v)))
                        .append("</title></rect>");
                x += w;
            }
            b.append("</g>");
        }
        double bottom = TOP + rowH * bars.size();
        if (limitShown) {
            double x = left + plotW * limit / max;
            line(b, "target", x, x, TOP, bottom, "target " + unit.apply(limit));
        }
        for (int t = 0; t <= 2; t++) {
            text(
                    b,
                    left + plotW * t / 2,
                    bottom + 16,
                    t == 0 ? "start" : t == 2 ? "end" : "middle",
                    unit.apply(max * t / 2));
        }
        b.append("</svg><figcaption>");
        for (int p = 0; p < partNames.size(); p++) {
            b.append("<span class=\"key ").append(Html.esc(partCss.get(p))).append("\">");
            b.append(Html.esc(partNames.get(p))).append("</span> ");
        }
        legendTarget(b, limit, limitShown, unit);
        return b.append("</figcaption></figure>").toString();
    }

    /** A figure's opening: an SVG {@link #WIDTH} wide, named {@code id} for the tests, with more attributes. */
    static StringBuilder open(String id, int height, String attributes) {
        return new StringBuilder(4096)
                .append("<figure class=\"chart\"><svg viewBox=\"0 0 ")
                .append(WIDTH)
                .append(' ')
                .append(height)
                .append("\" role=\"img\" data-chart=\"")
                .append(Html.esc(id))
                .append('"')
                .append(attributes)
                .append('>');
    }

    private static void legendTarget(StringBuilder b, Double target, boolean drawn, DoubleFunction<String> unit) {
        if (target != null) {
            b.append("<span class=\"key target")
                    .append(drawn ? "" : " off-scale")
                    .append("\">target ");
            b.append(Html.esc(unit.apply(target)))
                    .append(drawn ? "" : " (far above: not drawn)")
                    .append("</span>");
        }
    }

    private static void line(StringBuilder b, String css, double x1, double x2, double y1, double y2, String title) {
        b.append("<line class=\"")
                .append(css)
                .append("\" x1=\"")
                .append(fmt(x1))
                .append("\" x2=\"")
                .append(fmt(x2));
        b.append("\" y1=\"").append(fmt(y1)).append("\" y2=\"").append(fmt(y2)).append("\">");
        if (title != null) {
            b.append("<title>").append(Html.esc(title)).append("</title>");
        }
        b.append("</line>");
    }

    static void text(StringBuilder b, double x, double y, String anchor, String text) {
        b.append("<text class=\"axis\" x=\"").append(fmt(x)).append("\" y=\"").append(fmt(y));
        b.append("\" text-anchor=\"")
                .append(anchor)
                .append("\">")
                .append(Html.esc(text))
                .append("</text>");
    }

    static String fmt(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }
}
