package dev.lifeboat.controller.dashboard;

import dev.lifeboat.controller.api.RestApi;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.controller.status.RpoHistory;
import dev.lifeboat.controller.status.SlaStatus;
import dev.lifeboat.controller.status.SlaStatus.DatabaseStatus;
import dev.lifeboat.controller.status.SlaStatus.RegionRpo;
import io.javalin.http.Context;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Every region: its worst RPO and summed WAL lag over time, which of its databases lag, and which regions an operator
 * paused or whose last replication pass failed.
 */
final class RegionsPage implements Dashboard.Page {
    private record Row(DatabaseStatus db, RegionRpo region, ReplicationStates.State replication) {
        String state() {
            SlaStatus.Replicator replicator = region.replicator();
            if ((replication != null && replication.paused())
                    || (replicator != null && replicator.state().equals("exited"))) {
                return "paused";
            }
            if ((replication != null && replication.failing())
                    || (replicator != null && replicator.state().equals("gone"))) {
                return "failing";
            }
            if (region.rpoSeconds() == null) {
                return "unknown";
            }
            if (region.stale()) {
                return "stale";
            }
            return region.meets() ? "ok" : "lagging";
        }

        String css() {
            return switch (state()) {
                case "ok" -> "ok";
                case "unknown", "paused" -> "unknown";
                default -> "breach";
            };
        }
    }

    private final RestApi.Services s;

    RegionsPage(RestApi.Services s) {
        this.s = s;
    }

    @Override
    public String render(Context ctx, Sessions.Session session) {
        Instant now = Instant.now();
        Map<String, List<JobRecord>> replicate = s.jobs().newestPerDatabase(List.of("REPLICATE"), false, 20);
        Map<String, List<Row>> byRegion = new TreeMap<>();
        for (DatabaseStatus st : s.status().all()) {
            Map<String, ReplicationStates.State> states =
                    ReplicationStates.of(replicate.getOrDefault(st.database(), List.of()));
            for (RegionRpo r : st.regions()) {
                byRegion.computeIfAbsent(r.region(), k -> new ArrayList<>())
                        .add(new Row(st, r, states.get(r.region())));
            }
        }
        Map<String, List<RpoHistory.Point>> history = s.history().byRegion(now);
        StringBuilder b = new StringBuilder(8192).append("<h1>Regions</h1>");
        if (byRegion.isEmpty()) {
            return Html.page(
                    "Regions",
                    "regions",
                    session,
                    10,
                    b.append("<p>No region has reported an RPO yet.</p>").toString());
        }
        b.append("<table class=\"region-summary\"><thead><tr><th>Region</th><th>Databases</th><th>Worst RPO</th>"
                + "<th>WAL lag</th><th>Lagging</th><th>Paused</th><th>Failing</th></tr></thead><tbody>");
        byRegion.forEach((region, rows) -> summary(b, region, rows));
        b.append("</tbody></table>");
        byRegion.forEach((region, rows) -> section(b, region, rows, history.get(region), now));
        b.append("<p class=\"hint\">Charts: one point per ")
                .append(Html.seconds((double) s.history().step().toSeconds()))
                .append(" (the worst RPO and the summed lag of the region's databases in it), the last ")
                .append(RpoHistory.POINTS)
                .append(" kept in the controller's memory.</p>");
        return Html.page("Regions", "regions", session, 10, b.toString());
    }

    private static void summary(StringBuilder b, String region, List<Row> rows) {
        Double worst = null;
        long lag = 0;
        boolean lagKnown = false;
        int lagging = 0;
        int paused = 0;
        int failing = 0;
        for (Row r : rows) {
            if (r.region().rpoSeconds() != null) {
                worst = worst == null
                        ? r.region().rpoSeconds()
                        : Math.max(worst, r.region().rpoSeconds());
            }
            if (r.region().lagBytes() != null) {
                lag += r.region().lagBytes();
                lagKnown = true;
            }
            switch (r.state()) {
                case "lagging", "stale" -> lagging++;
                case "paused" -> paused++;
                case "failing" -> failing++;
                default -> {}
            }
        }
        String css = failing + lagging > 0 ? "breach" : paused > 0 || worst == null ? "unknown" : "ok";
        b.append("<tr class=\"")
                .append(css)
                .append("\" data-region=\"")
                .append(Html.esc(region))
                .append("\"><td><a href=\"#region-")
                .append(Html.esc(region))
                .append("\">")
                .append(Html.esc(region))
                .append("</a></td><td data-field=\"databases\">")
                .append(rows.size())
                .append("</td><td data-field=\"worst-rpo\" data-value=\"")
                .append(Html.raw(worst))
                .append("\">")
                .append(Html.seconds(worst))
                .append("</td><td data-field=\"lag\" data-value=\"")
                .append(lagKnown ? lag : "")
                .append("\">")
                .append(lagKnown ? Html.bytes(lag) : "—")
                .append("</td><td data-field=\"lagging\">")
                .append(lagging)
                .append("</td><td data-field=\"paused\">")
                .append(paused)
                .append("</td><td data-field=\"failing\">")
                .append(failing)
                .append("</td></tr>");
    }

    private static void section(
            StringBuilder b, String region, List<Row> rows, List<RpoHistory.Point> points, Instant now) {
        long tightest =
                rows.stream().mapToLong(r -> r.db().rpoTargetSeconds()).min().orElse(0);
        b.append("<section class=\"region\" id=\"region-")
                .append(Html.esc(region))
                .append("\" data-region=\"")
                .append(Html.esc(region))
                .append("\"><h2>")
                .append(Html.esc(region))
                .append("</h2>");
        if (points != null) {
            List<Instant> times = points.stream().map(RpoHistory.Point::at).toList();
            double[] rpo =
                    points.stream().mapToDouble(RpoHistory.Point::rpoSeconds).toArray();
            double[] lag =
                    points.stream().mapToDouble(RpoHistory.Point::lagBytes).toArray();
            b.append("<div class=\"charts\"><div><h3>Worst RPO</h3>")
                    .append(SvgChart.lines(
                            "rpo-" + region,
                            times,
                            List.of(new SvgChart.Line("worst RPO", "s0", rpo)),
                            (double) tightest,
                            v -> Html.seconds(v)))
                    .append("</div><div><h3>WAL not yet in the region</h3>")
                    .append(SvgChart.lines(
                            "lag-" + region,
                            times,
                            List.of(new SvgChart.Line("WAL lag", "s1", lag)),
                            null,
                            v -> Html.bytes((long) v)))
                    .append("</div></div>");
        }
        b.append("<table class=\"region-databases\"><thead><tr><th>Database</th><th>Role</th><th>RPO now / target</th>"
                + "<th>WAL lag</th><th>Measured</th><th>Replication</th><th>State</th></tr></thead><tbody>");
        for (Row r : rows) {
            RegionRpo rr = r.region();
            ReplicationStates.State rep = r.replication();
            b.append("<tr class=\"")
                    .append(r.css())
                    .append("\" data-database=\"")
                    .append(Html.esc(r.db().database()))
                    .append("\" data-state=\"")
                    .append(r.state())
                    .append("\"><td><a href=\"/ui/databases/")
                    .append(Html.esc(URLEncoder.encode(r.db().database(), StandardCharsets.UTF_8)))
                    .append("\">")
                    .append(Html.esc(r.db().database()))
                    .append("</a></td><td>")
                    .append(rr.primary() ? "primary" : "replica")
                    .append("</td><td data-field=\"rpo\" data-value=\"")
                    .append(Html.raw(rr.rpoSeconds()))
                    .append("\">")
                    .append(Html.seconds(rr.rpoSeconds()))
                    .append(" / ")
                    .append(Html.seconds((double) r.db().rpoTargetSeconds()))
                    .append("</td><td data-field=\"lag\" data-value=\"")
                    .append(rr.lagBytes() == null ? "" : rr.lagBytes())
                    .append("\">")
                    .append(Html.bytes(rr.lagBytes()))
                    .append("</td><td>")
                    .append(rr.measuredAt() == null ? "never" : Html.age(rr.measuredAt(), now))
                    .append(rr.stale() && rr.measuredAt() != null ? " (stale)" : "")
                    .append("</td><td data-field=\"replication\">");
            SlaStatus.Replicator replicator = rr.replicator();
            if (replicator != null) {
                b.append("<span data-field=\"replicator\" data-value=\"")
                        .append(replicator.state())
                        .append("\">replicator ")
                        .append(replicator.state())
                        .append(" (")
                        .append(replicator.exited() ? "exited " : "last heartbeat ")
                        .append(Html.seconds(replicator.heartbeatAgeSeconds()))
                        .append(" ago)</span>")
                        .append(rep == null ? "" : "; ");
            }
            b.append(
                    rr.primary()
                            ? "—"
                            : rep == null
                                    ? (replicator == null ? ReplicationStates.NONE : "")
                                    : Html.esc(rep.describe(now)));
            b.append("</td><td data-field=\"state\">").append(r.state()).append("</td></tr>");
        }
        b.append("</tbody></table></section>");
    }
}
