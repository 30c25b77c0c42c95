package dev.lifeboat.controller.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

/**
 * The database page's recovery timeline, drawn from the agent's catalog (a CATALOG job's result): per timeline the
 * window a restore can reach (from the first backup's end to the newest archived commit), each backup as a mark at
 * its end (full tall, incremental and differential short), and WAL gaps in red, placed between the store times of the
 * archived segments around them. Then the same as a table, and the "restore to…" planner, which asks the agent for a
 * plan (app.js posts the time and shows the answer).
 */
final class RecoveryTimeline {
    private static final int WIDTH = SvgChart.WIDTH;
    private static final int LEFT = 110;
    private static final int RIGHT = 12;
    private static final int ROW = 34;
    private static final DateTimeFormatter STAMP =
            DateTimeFormatter.ofPattern("MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

    private RecoveryTimeline() {}

    /** {@code catalog}: the result's catalog; {@code readAt}: when the job read it. */
    static String render(String database, JsonNode catalog, Instant readAt, Instant now) {
        StringBuilder b = new StringBuilder(8192);
        b.append("<p class=\"hint\" data-field=\"catalog-read\">As the agent read the repository ")
                .append(Html.age(readAt, now))
                .append(" (")
                .append(Html.time(readAt))
                .append("); read again after every backup and retention run. WAL archived since then is not shown.")
                .append("</p>");
        List<JsonNode> windows = list(catalog.path("timelines"));
        List<JsonNode> backups = list(catalog.path("backups"));
        if (windows.isEmpty() && backups.isEmpty()) {
            return b.append("<p>The repository holds no backup yet.</p>").toString();
        }
        Instant from = readAt;
        Instant to = readAt;
        for (JsonNode bk : backups) {
            from = min(from, time(bk.path("startTime")));
        }
        for (JsonNode w : windows) {
            from = min(from, time(w.path("earliest")));
            to = max(to, time(w.path("latest")));
        }
        double span = Math.max(1, to.getEpochSecond() - from.getEpochSecond());
        double plotW = WIDTH - LEFT - RIGHT;
        int height = 14 + ROW * windows.size() + 22;
        b.append(SvgChart.open("recovery-timeline", height, ""));
        for (int r = 0; r < windows.size(); r++) {
            JsonNode w = windows.get(r);
            int tli = w.path("timeline").asInt();
            double y = 8 + r * ROW;
            b.append("<g data-timeline=\"").append(tli).append("\">");
            SvgChart.text(b, LEFT - 6, y + 19, "end", "timeline " + tli);
            Instant earliest = time(w.path("earliest"));
            Instant latest = time(w.path("latest"));
            if (earliest != null && latest != null) {
                double x1 = x(earliest, from, span, plotW);
                double x2 = Math.max(x1 + 2, x(latest, from, span, plotW));
                b.append("<rect class=\"cover\" data-earliest=\"")
                        .append(earliest)
                        .append("\" data-latest=\"")
                        .append(latest)
                        .append("\" x=\"")
                        .append(fmt(x1))
                        .append("\" y=\"")
                        .append(fmt(y + 9))
                        .append("\" width=\"")
                        .append(fmt(x2 - x1))
                        .append("\" height=\"14\"><title>recoverable on timeline ")
                        .append(tli)
                        .append(": ")
                        .append(Html.time(earliest))
                        .append(" .. ")
                        .append(Html.time(latest))
                        .append("</title></rect>");
            }
            for (JsonNode g : list(catalog.path("gaps"))) {
                if (g.path("timeline").asInt() != tli) {
                    continue;
                }
                Instant after = time(g.path("after"));
                Instant before = time(g.path("before"));
                Instant at = after != null ? after : before != null ? before : from;
                double x1 = x(at, from, span, plotW);
                double x2 = before != null && after != null ? Math.max(x1 + 3, x(before, from, span, plotW)) : x1 + 3;
                b.append("<rect class=\"gap\" data-segment=\"")
                        .append(Html.esc(g.path("segment").asText()))
                        .append("\" x=\"")
                        .append(fmt(x1))
                        .append("\" y=\"")
                        .append(fmt(y + 4))
                        .append("\" width=\"")
                        .append(fmt(x2 - x1))
                        .append("\" height=\"24\"><title>missing WAL ")
                        .append(Html.esc(g.path("segment").asText()))
                        .append(" (between segments stored ")
                        .append(after == null ? "?" : Html.time(after))
                        .append(" and ")
                        .append(before == null ? "?" : Html.time(before))
                        .append(")</title></rect>");
            }
            for (JsonNode bk : backups) {
                if (bk.path("timeline").asInt(1) != tli) {
                    continue;
                }
                Instant stop = time(bk.path("stopTime"));
                if (stop == null) {
                    continue;
                }
                boolean full = bk.path("type").asText().equals("full");
                double x = x(stop, from, span, plotW);
                b.append("<line class=\"backup ")
                        .append(full ? "full" : "partial")
                        .append("\" data-backup=\"")
                        .append(Html.esc(bk.path("id").asText()))
                        .append("\" x1=\"")
                        .append(fmt(x))
                        .append("\" x2=\"")
                        .append(fmt(x))
                        .append("\" y1=\"")
                        .append(fmt(y + (full ? 2 : 8)))
                        .append("\" y2=\"")
                        .append(fmt(y + (full ? 30 : 24)))
                        .append("\"><title>")
                        .append(Html.esc(bk.path("type").asText()))
                        .append(" backup ")
                        .append(Html.esc(bk.path("id").asText()))
                        .append(", ended ")
                        .append(Html.time(stop))
                        .append(", ")
                        .append(Html.bytes(bk.path("size").asLong()))
                        .append("</title></line>");
            }
            b.append("</g>");
        }
        double axisY = 8 + ROW * windows.size() + 14;
        SvgChart.text(b, LEFT, axisY, "start", STAMP.format(from) + " UTC");
        SvgChart.text(b, WIDTH - RIGHT, axisY, "end", STAMP.format(to) + " UTC");
        b.append("</svg><figcaption><span class=\"key cover\">recoverable</span> <span class=\"key full\">full backup")
                .append("</span> <span class=\"key partial\">incremental / differential</span> ")
                .append("<span class=\"key gap\">missing WAL</span></figcaption></figure>");
        table(b, windows);
        planner(b, database, windows);
        return b.toString();
    }

    private static void table(StringBuilder b, List<JsonNode> windows) {
        b.append("<table class=\"windows\"><thead><tr><th>Timeline</th><th>Recoverable from</th><th>to</th>"
                + "<th>WAL up to</th><th>Missing WAL</th><th>Archived by</th></tr></thead><tbody>");
        for (JsonNode w : windows) {
            List<String> missing = new ArrayList<>();
            w.path("missingSegments").forEach(m -> missing.add(m.asText()));
            b.append("<tr data-timeline=\"")
                    .append(w.path("timeline").asInt())
                    .append("\" class=\"")
                    .append(missing.isEmpty() ? (w.hasNonNull("earliest") ? "ok" : "unknown") : "breach")
                    .append("\"><td>")
                    .append(w.path("timeline").asInt())
                    .append(w.path("source").asBoolean() ? "" : " (not the source's history)")
                    .append("</td><td data-field=\"earliest\">")
                    .append(w.hasNonNull("earliest") ? Html.time(time(w.path("earliest"))) : "no backup on it")
                    .append("</td><td data-field=\"latest\">")
                    .append(w.hasNonNull("latest") ? Html.time(time(w.path("latest"))) : "—")
                    .append("</td><td>")
                    .append(Html.esc(w.path("latestSegment").asText("—")))
                    .append("</td><td data-field=\"missing\">")
                    .append(missing.isEmpty() ? "none" : Html.esc(String.join(", ", missing)))
                    .append("</td><td>")
                    .append(Html.esc(w.path("owner").asText("")))
                    .append("</td></tr>");
        }
        b.append("</tbody></table>");
    }

    /** The "restore to…" form: a UTC time (prefilled with the newest recoverable point) or the end of the archive. */
    private static void planner(StringBuilder b, String database, List<JsonNode> windows) {
        Instant newest = null;
        for (JsonNode w : windows) {
            if (w.path("source").asBoolean()) {
                newest = max(newest, time(w.path("latest")));
            }
        }
        String value = newest == null
                ? ""
                : DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss")
                        .withZone(ZoneOffset.UTC)
                        .format(newest.minusSeconds(60));
        b.append("<h3>Restore to…</h3><form class=\"planner\" id=\"planner\" data-keep data-database=\"")
                .append(Html.esc(database))
                .append("\"><label>time (UTC) <input type=\"datetime-local\" step=\"1\" name=\"target_time\" value=\"")
                .append(value)
                .append("\"></label> <button type=\"submit\" class=\"plan\" name=\"to\" value=\"time\">Plan</button>")
                .append(" <button type=\"submit\" class=\"plan\" name=\"to\" value=\"latest\">Plan to the newest")
                .append(" point</button></form><div id=\"plan-result\" class=\"plan-result\" data-keep></div>")
                .append("<p class=\"hint\">The agent works out the plan from the repository; nothing is restored.")
                .append(" Operators restore with RESTORE_PITR and the same target.</p>");
    }

    private static List<JsonNode> list(JsonNode array) {
        List<JsonNode> out = new ArrayList<>();
        array.forEach(out::add);
        return out;
    }

    private static Instant time(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) {
            return null;
        }
        if (n.isNumber()) {
            // Jackson's default for an Instant: epoch seconds with a fraction
            return Instant.ofEpochMilli(Math.round(n.asDouble() * 1000));
        }
        return Instant.parse(n.asText());
    }

    private static Instant min(Instant a, Instant b) {
        return a == null ? b : b == null ? a : a.isBefore(b) ? a : b;
    }

    private static Instant max(Instant a, Instant b) {
        return a == null ? b : b == null ? a : a.isAfter(b) ? a : b;
    }

    private static double x(Instant t, Instant from, double span, double plotW) {
        return LEFT + plotW * Math.max(0, Math.min(1, (t.getEpochSecond() - from.getEpochSecond()) / span));
    }

    private static String fmt(double v) {
        return SvgChart.fmt(v);
    }
}
