package dev.lifeboat.controller.dashboard;

import dev.lifeboat.controller.api.RestApi;
import dev.lifeboat.controller.drills.DrillReports;
import dev.lifeboat.controller.status.SlaStatus.DatabaseStatus;
import io.javalin.http.Context;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/** Every database with its tier, RPO and RTO against their targets, last backup and drill, and a colour. */
final class OverviewPage implements Dashboard.Page {
    private final RestApi.Services s;

    OverviewPage(RestApi.Services s) {
        this.s = s;
    }

    @Override
    public String render(Context ctx, Sessions.Session session) {
        Instant now = Instant.now();
        List<DatabaseStatus> all = s.status().all();
        Map<String, DrillReports.Summary> drills = s.drills().newestPerDatabase();
        String region = Html.param(ctx, "region");
        String tier = Html.param(ctx, "tier");
        String state = Html.param(ctx, "state");
        int[] counts = new int[DatabaseState.values().length];
        TreeSet<String> regions = new TreeSet<>();
        TreeSet<String> tiers = new TreeSet<>();
        StringBuilder rows = new StringBuilder(all.size() * 700);
        int shown = 0;
        for (DatabaseStatus st : all) {
            DatabaseState colour = DatabaseState.of(st);
            counts[colour.ordinal()]++;
            if (st.region() != null) {
                regions.add(st.region());
            }
            tiers.add(st.tier());
            if ((region != null && !region.equals(st.region()))
                    || (tier != null && !tier.equals(st.tier()))
                    || (state != null && !state.equals(colour.css()))) {
                continue;
            }
            shown++;
            row(rows, st, colour, drills.get(st.database()), now);
        }
        StringBuilder b = new StringBuilder(rows.length() + 4096);
        b.append("<h1>Can every database be recovered, on time?</h1><div class=\"counts\">")
                .append(count("databases", all.size(), "databases", ""))
                .append(count("ok", counts[DatabaseState.OK.ordinal()], "meet both objectives", "ok"))
                .append(count("breach", counts[DatabaseState.BREACH.ordinal()], "outside RPO or RTO", "breach"))
                .append(count("unknown", counts[DatabaseState.UNKNOWN.ordinal()], "not yet measured", "unknown"))
                .append("</div>");
        b.append("<form class=\"filters\" method=\"get\" action=\"/ui/overview\">")
                .append(select("region", "every region", regions, region))
                .append(select("tier", "every tier", tiers, tier))
                .append(select("state", "every state", List.of("ok", "breach", "unknown"), state))
                .append("<button type=\"submit\">Filter</button> <span class=\"shown\" data-count=\"shown\">")
                .append(shown)
                .append("</span> shown</form>");
        b.append("<table class=\"databases\"><thead><tr><th>Database</th><th>Tier</th><th>Region</th>"
                        + "<th>RPO now / target</th><th>RTO estimate / target</th><th>Last backup</th>"
                        + "<th>Last drill</th><th>Problems</th></tr></thead><tbody>")
                .append(rows)
                .append("</tbody></table>");
        return Html.page("Overview", "overview", session, 5, b.toString());
    }

    private static void row(
            StringBuilder b, DatabaseStatus st, DatabaseState colour, DrillReports.Summary drill, Instant now) {
        String name = Html.esc(st.database());
        b.append("<tr class=\"")
                .append(colour.css())
                .append("\" data-database=\"")
                .append(name)
                .append("\" data-state=\"")
                .append(colour.css())
                .append("\"><td><a href=\"/ui/databases/")
                .append(Html.esc(URLEncoder.encode(st.database(), StandardCharsets.UTF_8)))
                .append("\">")
                .append(name)
                .append("</a></td><td data-field=\"tier\">")
                .append(Html.esc(st.tier()))
                .append("</td><td data-field=\"region\">")
                .append(Html.esc(Objects.requireNonNullElse(st.region(), "—")))
                .append("</td><td data-field=\"rpo\" data-value=\"")
                .append(Html.raw(st.rpoSeconds()))
                .append("\" data-target=\"")
                .append(st.rpoTargetSeconds())
                .append("\" class=\"")
                .append(st.rpoSeconds() == null ? "unknown" : st.rpoMet() ? "ok" : "breach")
                .append("\">")
                .append(Html.seconds(st.rpoSeconds()))
                .append(" / ")
                .append(Html.seconds((double) st.rpoTargetSeconds()))
                .append("</td><td data-field=\"rto\" data-value=\"")
                .append(Html.raw(st.rto().seconds()))
                .append("\" data-target=\"")
                .append(st.rtoTargetSeconds())
                .append("\" class=\"")
                .append(st.rto().seconds() == null ? "unknown" : st.rtoMet() ? "ok" : "breach")
                .append("\">")
                .append(Html.seconds(st.rto().seconds()))
                .append(" / ")
                .append(Html.seconds((double) st.rtoTargetSeconds()))
                .append("</td><td data-field=\"last-backup\" data-value=\"")
                .append(Html.esc(Objects.requireNonNullElse(st.lastBackupId(), "")))
                .append("\" title=\"")
                .append(Html.time(st.lastBackupAt()))
                .append("\">")
                .append(Html.age(st.lastBackupAt(), now))
                .append("</td><td data-field=\"last-drill\" data-value=\"")
                .append(drill == null ? "" : Html.esc(drill.outcome()))
                .append("\">");
        if (drill == null) {
            b.append("never");
        } else {
            b.append("<span class=\"")
                    .append("PASSED".equals(drill.outcome()) ? "ok" : "breach")
                    .append("\">")
                    .append(Html.esc(drill.outcome()))
                    .append("</span> ")
                    .append(Html.age(drill.createdAt(), now));
        }
        b.append("</td><td data-field=\"problems\">")
                .append(st.problems().isEmpty() ? "" : Html.esc(st.problems().getFirst()))
                .append(st.problems().size() > 1 ? " (+" + (st.problems().size() - 1) + ")" : "")
                .append("</td></tr>\n");
    }

    private static String count(String key, int n, String label, String css) {
        return "<div class=\"count " + css + "\"><span class=\"n\" data-count=\"" + key + "\">" + n + "</span> "
                + Html.esc(label) + "</div>";
    }

    private static String select(String name, String any, Iterable<String> values, String chosen) {
        StringBuilder b = new StringBuilder("<label>")
                .append(name)
                .append(" <select name=\"")
                .append(name)
                .append("\"><option value=\"\">")
                .append(any)
                .append("</option>");
        for (String v : values) {
            b.append("<option")
                    .append(v.equals(chosen) ? " selected" : "")
                    .append(">")
                    .append(Html.esc(v))
                    .append("</option>");
        }
        return b.append("</select></label> ").toString();
    }
}
