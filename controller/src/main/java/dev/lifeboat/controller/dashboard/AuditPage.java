package dev.lifeboat.controller.dashboard;

import dev.lifeboat.controller.api.RestApi;
import dev.lifeboat.controller.audit.AuditEntry;
import dev.lifeboat.controller.audit.AuditLog;
import io.javalin.http.Context;
import java.util.List;

/** The audit chain, re-verified on every view against the head kept outside the database, newest entries first. */
final class AuditPage implements Dashboard.Page {
    private static final int SHOWN = 200;
    private final RestApi.Services s;

    AuditPage(RestApi.Services s) {
        this.s = s;
    }

    @Override
    public String render(Context ctx, Sessions.Session session) throws Exception {
        AuditLog.VerifyResult v =
                s.auditLog().verify(AuditLog.readAnchor(s.auditHead()).orElse(null));
        long head = Long.parseLong(s.auditLog().head().split(":")[0]);
        List<AuditEntry> entries = s.auditLog().list(Math.max(0, head - SHOWN), SHOWN);
        StringBuilder b = new StringBuilder("<h1>Audit log</h1><p class=\"verify ")
                .append(v.ok() ? "ok" : "breach")
                .append("\" data-verified=\"")
                .append(v.ok())
                .append("\">")
                .append(
                        v.ok()
                                ? "Chain intact: " + v.entriesChecked() + " entries verified against the kept head."
                                : "CHAIN BROKEN at entry " + v.firstBadSeq() + ": " + Html.esc(v.problem()))
                .append("</p><table class=\"audit\"><thead><tr><th>#</th><th>When</th><th>Who</th><th>What</th>"
                        + "<th>Target</th><th>Detail</th></tr></thead><tbody>");
        for (AuditEntry e : entries.reversed()) {
            b.append("<tr data-seq=\"")
                    .append(e.seq())
                    .append("\"><td>")
                    .append(e.seq())
                    .append("</td><td>")
                    .append(Html.time(e.at()))
                    .append("</td><td>")
                    .append(Html.esc(e.actor()))
                    .append("</td><td>")
                    .append(Html.esc(e.action()))
                    .append("</td><td>")
                    .append(Html.esc(e.target()))
                    .append("</td><td class=\"detail\">")
                    .append(Html.esc(e.detail()))
                    .append("</td></tr>\n");
        }
        return Html.page(
                "Audit log", "audit", session, 0, b.append("</tbody></table>").toString());
    }
}
