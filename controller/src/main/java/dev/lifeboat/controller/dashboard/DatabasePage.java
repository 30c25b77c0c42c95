package dev.lifeboat.controller.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.controller.api.RestApi;
import dev.lifeboat.controller.api.Role;
import dev.lifeboat.controller.drills.DrillReports;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.controller.jobs.RecoveryCatalogs;
import dev.lifeboat.controller.status.RpoHistory;
import dev.lifeboat.controller.status.SlaStatus.DatabaseStatus;
import dev.lifeboat.controller.status.SlaStatus.RegionRpo;
import io.javalin.http.Context;
import io.javalin.http.NotFoundResponse;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** One database: its objectives per region, the RTO estimate's inputs, its jobs and drills, and what to do now. */
final class DatabasePage implements Dashboard.Page {
    private final RestApi.Services s;
    private final ObjectMapper json;

    DatabasePage(RestApi.Services s, ObjectMapper json) {
        this.s = s;
        this.json = json;
    }

    @Override
    public String render(Context ctx, Sessions.Session session) throws Exception {
        String name = ctx.pathParam("database");
        if (s.inventory().database(name).isEmpty()) {
            throw new NotFoundResponse("no database " + name + " in the controller's inventory");
        }
        Instant now = Instant.now();
        DatabaseStatus st = s.status().of(name);
        DatabaseState colour = DatabaseState.of(st);
        StringBuilder b = new StringBuilder("<h1>")
                .append(Html.esc(name))
                .append(" <span class=\"badge ")
                .append(colour.css())
                .append("\" data-state=\"")
                .append(colour.css())
                .append("\">")
                .append(colour.css())
                .append("</span></h1><p>Tier <b>")
                .append(Html.esc(st.tier()))
                .append("</b> (policy ")
                .append(Html.esc(st.policy()))
                .append("), agent <b>")
                .append(Html.esc(st.agent()))
                .append("</b> ")
                .append(Html.esc(st.agentState()))
                .append(", last backup ")
                .append(Html.esc(st.lastBackupId() == null ? "none" : st.lastBackupId()))
                .append(" (")
                .append(Html.age(st.lastBackupAt(), now))
                .append(").</p>");
        if (session.caller().role().allows(Role.OPERATOR)) {
            b.append("<div class=\"actions\">")
                    .append(job("Back up now (full)", name, "BACKUP_FULL", Map.of()))
                    .append(job("Back up now (incremental)", name, "BACKUP_INCREMENTAL", Map.of()))
                    .append(job("Verify now", name, "VERIFY", Map.of()))
                    .append(job("Drill now", name, "DR_DRILL", Map.of()))
                    .append("</div>");
        }
        b.append("<h2>RPO per region</h2><table class=\"regions\"><thead><tr><th>Region</th><th>RPO</th>"
                + "<th>Target</th><th>WAL lag</th><th>Measured</th><th>Replication</th><th></th></tr></thead><tbody>");
        Map<String, ReplicationStates.State> replication =
                ReplicationStates.of(s.jobs().ended(name, List.of("REPLICATE"), 20));
        for (RegionRpo r : st.regions()) {
            ReplicationStates.State rep = replication.get(r.region());
            b.append("<tr data-region=\"")
                    .append(Html.esc(r.region()))
                    .append("\" class=\"")
                    .append(r.rpoSeconds() == null ? "unknown" : r.meets() ? "ok" : "breach")
                    .append("\"><td>")
                    .append(Html.esc(r.region()))
                    .append(r.primary() ? " (primary)" : "")
                    .append("</td><td data-field=\"rpo\" data-value=\"")
                    .append(Html.raw(r.rpoSeconds()))
                    .append("\">")
                    .append(Html.seconds(r.rpoSeconds()))
                    .append("</td><td>")
                    .append(Html.seconds((double) st.rpoTargetSeconds()))
                    .append("</td><td data-field=\"lag\" data-value=\"")
                    .append(r.lagBytes() == null ? "" : r.lagBytes())
                    .append("\">")
                    .append(Html.bytes(r.lagBytes()))
                    .append("</td><td>")
                    .append(r.measuredAt() == null ? "never" : Html.age(r.measuredAt(), now))
                    .append(r.stale() ? " (stale)" : "")
                    .append("</td><td data-field=\"replication\">")
                    .append(r.primary() ? "—" : rep == null ? ReplicationStates.NONE : Html.esc(rep.describe(now)))
                    .append("</td><td>");
            if (!r.primary() && session.caller().role().allows(Role.OPERATOR)) {
                b.append(job("Pause", name, "REPLICATE", Map.of("region", r.region(), "control", "pause")))
                        .append(job("Resume", name, "REPLICATE", Map.of("region", r.region(), "control", "resume")));
            }
            b.append("</td></tr>");
        }
        b.append("</tbody></table>");
        rpoHistory(b, name, st, now);
        recovery(b, name, now);
        b.append("<h2>RTO estimate</h2><p data-field=\"rto\" data-value=\"")
                .append(Html.raw(st.rto().seconds()))
                .append("\">")
                .append(Html.seconds(st.rto().seconds()))
                .append(" against ")
                .append(Html.seconds((double) st.rtoTargetSeconds()))
                .append(": restore ")
                .append(Html.bytes(st.rto().restoreBytes()))
                .append(" at ")
                .append(
                        st.rto().restoreBytesPerSecond() == null
                                ? "an unmeasured rate"
                                : Html.bytes(st.rto().restoreBytesPerSecond().longValue()) + "/s")
                .append(", replay ")
                .append(Html.bytes(st.rto().walBytes()))
                .append(" of WAL, measured by ")
                .append(Html.esc(
                        st.rto().measuredBy() == null
                                ? "no drill yet"
                                : st.rto().measuredBy()))
                .append(".</p>");
        if (!st.problems().isEmpty()) {
            b.append("<ul class=\"problems\">");
            st.problems().forEach(p -> b.append("<li>").append(Html.esc(p)).append("</li>"));
            b.append("</ul>");
        }
        drills(b, name, st);
        b.append("<h2>Jobs</h2><div class=\"live\" data-events-after=\"")
                .append(s.events().latestId())
                .append("\"></div>")
                .append(JobTable.render(s.jobs().list(name, null, null, 20), session, json, now));
        return Html.page(name, "overview", session, 10, b.toString());
    }

    private void rpoHistory(StringBuilder b, String name, DatabaseStatus st, Instant now) {
        Map<String, List<RpoHistory.Point>> history = s.history().of(name, now);
        if (history.isEmpty()) {
            return;
        }
        List<Instant> times = history.values().iterator().next().stream()
                .map(RpoHistory.Point::at)
                .toList();
        List<SvgChart.Line> lines = new ArrayList<>();
        int colour = 0;
        for (var e : history.entrySet()) {
            lines.add(new SvgChart.Line(
                    e.getKey(),
                    "s" + (colour++ % 4),
                    e.getValue().stream()
                            .mapToDouble(RpoHistory.Point::rpoSeconds)
                            .toArray()));
        }
        b.append("<h2>RPO history</h2>")
                .append(SvgChart.lines("rpo-history", times, lines, (double) st.rpoTargetSeconds(), Html::seconds));
    }

    /** What the repository can recover, from the newest catalog the agent read, and the "restore to…" planner. */
    private void recovery(StringBuilder b, String name, Instant now) throws Exception {
        b.append("<h2>What can be recovered</h2>");
        Optional<JobRecord> catalog = RecoveryCatalogs.newest(s.jobs(), name);
        String readNow = "<button type=\"button\" class=\"catalog\" data-post=\"/api/v1/databases/"
                + Html.esc(URLEncoder.encode(name, StandardCharsets.UTF_8))
                + "/catalog\">Read the catalog now</button>";
        if (catalog.isEmpty()) {
            b.append("<p>The agent has not read this database's repository yet (it does after every backup). ")
                    .append(readNow)
                    .append("</p>");
            return;
        }
        b.append(RecoveryTimeline.render(
                        name,
                        json.readTree(catalog.get().resultJson()).path("catalog"),
                        catalog.get().endedAt(),
                        now))
                .append("<p>")
                .append(readNow)
                .append("</p>");
    }

    /** The newest drills: outcome, measured RTO and RPO, and the RTO's phases as bars against the target. */
    private void drills(StringBuilder b, String name, DatabaseStatus st) {
        Instant now = Instant.now();
        List<Map.Entry<DrillReports.Summary, JsonNode>> drills = s.drills().recentReports(name, 10);
        b.append("<h2>Drills</h2>");
        List<SvgChart.Bar> bars = new ArrayList<>();
        for (var d : drills) {
            JsonNode rto = d.getValue().path("result").path("rto");
            if (rto.has("seconds")) {
                bars.add(new SvgChart.Bar(
                        d.getKey().id().substring(0, Math.min(8, d.getKey().id().length())) + " "
                                + Html.age(d.getKey().createdAt(), now),
                        new double[] {
                            rto.path("fetch_seconds").asDouble(),
                            rto.path("wal_replay_seconds").asDouble(),
                            rto.path("validation_seconds").asDouble()
                        }));
            }
        }
        b.append(SvgChart.bars(
                "drill-phases",
                List.of("fetch", "WAL replay", "validation"),
                List.of("s0", "s1", "s2"),
                bars,
                (double) st.rtoTargetSeconds(),
                Html::seconds));
        b.append("<table class=\"drills\"><thead><tr><th>Drill</th><th>Outcome</th><th>When</th><th>RTO</th>"
                + "<th>RPO</th><th>Report</th></tr></thead><tbody>");
        for (var d : drills) {
            DrillReports.Summary sum = d.getKey();
            JsonNode result = d.getValue().path("result");
            b.append("<tr data-drill=\"")
                    .append(Html.esc(sum.id()))
                    .append("\" class=\"")
                    .append("PASSED".equals(sum.outcome()) ? "ok" : "breach")
                    .append("\"><td>")
                    .append(Html.esc(sum.id()))
                    .append("</td><td>")
                    .append(Html.esc(sum.outcome()))
                    .append("</td><td>")
                    .append(Html.age(sum.createdAt(), now))
                    .append("</td><td data-field=\"rto\" data-value=\"")
                    .append(number(result.path("rto").path("seconds")))
                    .append("\">")
                    .append(seconds(result.path("rto").path("seconds")))
                    .append("</td><td data-field=\"rpo\">")
                    .append(
                            result.path("rpo").path("measured").asBoolean(false)
                                    ? seconds(result.path("rpo").path("seconds"))
                                    : "not measured")
                    .append("</td><td><a href=\"/api/v1/drills/")
                    .append(Html.esc(sum.id()))
                    .append("/report.html\">report</a></td></tr>");
        }
        b.append("</tbody></table>");
    }

    private static String number(JsonNode n) {
        return n.isNumber() ? Html.raw(n.asDouble()) : "";
    }

    private static String seconds(JsonNode n) {
        return n.isNumber() ? Html.seconds(n.asDouble()) : "—";
    }

    private String job(String label, String database, String type, Map<String, String> params) throws Exception {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("database", database);
        body.put("type", type);
        body.put("params", params);
        return Html.action(label, "/api/v1/jobs", json.writeValueAsString(body), null);
    }
}
