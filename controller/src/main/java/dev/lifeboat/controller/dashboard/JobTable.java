package dev.lifeboat.controller.dashboard;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.controller.api.Role;
import dev.lifeboat.controller.jobs.JobRecord;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Jobs as a table whose progress bars app.js moves from the event stream ({@code *:progress} events). */
final class JobTable {
    private JobTable() {}

    static String render(List<JobRecord> jobs, Sessions.Session session, ObjectMapper json, Instant now)
            throws JsonProcessingException {
        boolean operator = session.caller().role().allows(Role.OPERATOR);
        StringBuilder b = new StringBuilder(jobs.size() * 600 + 512);
        b.append("<table class=\"jobs\"><thead><tr><th>Job</th><th>Type</th><th>Database</th><th>State</th>"
                        + "<th>Progress</th><th>Submitted</th><th>Message</th>")
                .append(operator ? "<th></th>" : "")
                .append("</tr></thead><tbody>");
        for (JobRecord j : jobs) {
            String state = j.state().toLowerCase(Locale.ROOT);
            b.append("<tr data-job=\"")
                    .append(Html.esc(j.id()))
                    .append("\" data-state=\"")
                    .append(state)
                    .append("\" class=\"job ")
                    .append(state)
                    .append("\"><td class=\"id\">")
                    .append(Html.esc(j.id()))
                    .append("</td><td>")
                    .append(Html.esc(j.type()))
                    .append("</td><td><a href=\"/ui/databases/")
                    .append(Html.esc(j.database()))
                    .append("\">")
                    .append(Html.esc(j.database()))
                    .append("</a></td><td class=\"state\">")
                    .append(state)
                    .append("</td><td class=\"progress\">")
                    .append(progress(j))
                    .append("</td><td title=\"")
                    .append(Html.time(j.submittedAt()))
                    .append("\">")
                    .append(Html.age(j.submittedAt(), now))
                    .append("</td><td class=\"message\">")
                    .append(Html.esc(j.message()))
                    .append("</td>");
            if (operator) {
                b.append("<td>");
                if (!j.ended() && !j.type().equals("WAL_STREAM")) {
                    b.append(Html.action(
                            "Cancel",
                            "/api/v1/jobs/" + j.id() + "/cancel",
                            json.writeValueAsString(Map.of("reason", "cancelled from the dashboard")),
                            "Cancel job " + j.id() + "?"));
                }
                b.append("</td>");
            }
            b.append("</tr>\n");
        }
        return b.append("</tbody></table>").toString();
    }

    /** A bar for a job that counts bytes (a WAL stream has no end to count to); its phase, rate and ETA beside it. */
    static String progress(JobRecord j) {
        if (j.type().equals("WAL_STREAM") || (j.ended() && !j.state().equals("COMPLETED"))) {
            return "<span class=\"phase\">" + Html.esc(j.phase() == null ? "" : j.phase()) + "</span>";
        }
        long total = j.bytesTotal() == null ? 0 : j.bytesTotal();
        long done = j.bytesDone() == null ? 0 : j.bytesDone();
        if (j.state().equals("COMPLETED")) {
            total = Math.max(total, 1);
            done = total;
        }
        String pct = total > 0 ? String.format(Locale.ROOT, "%.0f %%", 100.0 * done / total) : "";
        return "<progress data-job=\"" + Html.esc(j.id()) + "\" value=\"" + done + "\" max=\"" + Math.max(total, 1)
                + "\"></progress> <span class=\"pct\">" + pct + "</span> <span class=\"phase\">"
                + Html.esc(j.phase() == null ? "" : j.phase()) + "</span> <span class=\"rate\">"
                + (j.bytesPerSecond() == null || j.ended()
                        ? ""
                        : Html.bytes(j.bytesPerSecond().longValue()) + "/s")
                + "</span>";
    }
}
