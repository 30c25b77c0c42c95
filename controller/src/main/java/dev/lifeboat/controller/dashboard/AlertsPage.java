package dev.lifeboat.controller.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.controller.alerts.Alert;
import dev.lifeboat.controller.api.RestApi;
import dev.lifeboat.controller.api.Role;
import io.javalin.http.Context;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** Open alerts first (operators acknowledge them here), then the most recent ones of every state. */
final class AlertsPage implements Dashboard.Page {
    private final RestApi.Services s;
    private final ObjectMapper json;

    AlertsPage(RestApi.Services s, ObjectMapper json) {
        this.s = s;
        this.json = json;
    }

    @Override
    public String render(Context ctx, Sessions.Session session) throws Exception {
        Instant now = Instant.now();
        boolean operator = session.caller().role().allows(Role.OPERATOR);
        List<Alert> open = s.alerts().open();
        StringBuilder b = new StringBuilder("<h1>Alerts</h1><h2><span data-count=\"open-alerts\">")
                .append(open.size())
                .append("</span> open</h2>");
        b.append(table(open, operator, now, true));
        b.append("<h2>Recent</h2>").append(table(s.alerts().recent(50), false, now, false));
        return Html.page("Alerts", "alerts", session, 10, b.toString());
    }

    private String table(List<Alert> alerts, boolean operator, Instant now, boolean open) throws Exception {
        StringBuilder b = new StringBuilder("<table class=\"alerts\"><thead><tr><th>Severity</th><th>Alert</th>"
                        + "<th>Database</th><th>Region</th><th>Raised</th><th>")
                .append(open ? "Acknowledged" : "Resolved")
                .append("</th></tr></thead><tbody>");
        for (Alert a : alerts) {
            b.append("<tr data-alert=\"")
                    .append(Html.esc(a.id()))
                    .append("\" data-kind=\"")
                    .append(Html.esc(a.kind()))
                    .append("\" class=\"")
                    .append(
                            a.resolvedAt() != null
                                    ? "resolved"
                                    : a.severity().equals("critical") ? "breach" : "unknown")
                    .append("\"><td>")
                    .append(Html.esc(a.severity()))
                    .append("</td><td>")
                    .append(Html.esc(a.summary()))
                    .append("</td><td>")
                    .append(Html.esc(a.database()))
                    .append("</td><td>")
                    .append(Html.esc(a.region()))
                    .append("</td><td title=\"")
                    .append(Html.time(a.raisedAt()))
                    .append("\">")
                    .append(Html.age(a.raisedAt(), now))
                    .append("</td><td class=\"ack\">");
            if (!open) {
                b.append(a.resolvedAt() == null ? "open" : Html.age(a.resolvedAt(), now));
            } else if (a.acknowledgedAt() != null) {
                b.append("by ")
                        .append(Html.esc(a.acknowledgedBy()))
                        .append(", ")
                        .append(Html.age(a.acknowledgedAt(), now));
                if (a.acknowledgedNote() != null) {
                    b.append(": ").append(Html.esc(a.acknowledgedNote()));
                }
            } else if (operator) {
                b.append(Html.action(
                        "Acknowledge",
                        "/api/v1/alerts/" + a.id() + "/acknowledge",
                        json.writeValueAsString(Map.of("note", "taken from the dashboard")),
                        null));
            } else {
                b.append("no");
            }
            b.append("</td></tr>\n");
        }
        return b.append("</tbody></table>").toString();
    }
}
