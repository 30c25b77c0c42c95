package dev.lifeboat.controller.drills;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A drill report as a person reads it, in Markdown or HTML: one model (headings, key-value tables, tables, notes)
 * rendered two ways, so the two never say different things.
 */
public final class DrillReportDocument {
    private sealed interface Block permits Heading, Table, Note {}

    private record Heading(int level, String text) implements Block {}

    private record Table(List<String> header, List<List<String>> rows) implements Block {}

    private record Note(String text) implements Block {}

    private final List<Block> blocks = new ArrayList<>();

    private DrillReportDocument() {}

    public static String markdown(DrillReports.Stored s) {
        return of(s).toMarkdown();
    }

    public static String html(DrillReports.Stored s) {
        return of(s).toHtml();
    }

    static DrillReportDocument of(DrillReports.Stored s) {
        JsonNode r = s.report();
        JsonNode res = r.path("result");
        DrillReportDocument d = new DrillReportDocument();
        d.blocks.add(new Heading(
                1,
                "DR drill of " + r.path("database").asText() + ": "
                        + r.path("outcome").asText()));
        d.keyValues(
                "Drill",
                r.path("drill").asText(),
                "Database",
                r.path("database").asText(),
                "Agent",
                r.path("agent").asText(),
                "Policy",
                r.path("policy").isMissingNode()
                        ? "(not in the inventory)"
                        : r.path("policy").path("name").asText() + " (tier "
                                + r.path("policy").path("tier").asText() + ")",
                "Requested by",
                r.path("requested_by").asText(),
                "Started",
                text(r.path("started_at")),
                "Ended",
                text(r.path("ended_at")),
                "Source",
                res.path("source").isMissingNode()
                        ? "-"
                        : res.path("source").path("region").asText() + " ("
                                + res.path("source").path("repository").asText() + ")",
                "Backup",
                text(res.path("backup_id")),
                "Recovery target",
                text(res.path("recovery_target")),
                "Job",
                r.path("job_state").asText()
                        + (r.path("message").isTextual()
                                ? ": " + r.path("message").asText()
                                : ""));

        d.blocks.add(new Heading(2, "Objectives"));
        JsonNode obj = res.path("objectives");
        d.blocks.add(new Table(
                List.of("", "measured", "target", "verdict"),
                List.of(objectiveRow("RTO", obj.path("rto")), objectiveRow("RPO", obj.path("rpo")))));

        d.blocks.add(new Heading(2, "Recovery time"));
        JsonNode rto = res.path("rto");
        d.keyValues(
                "Fetch (restore the backup's files)",
                seconds(rto.path("fetch_seconds")) + ", " + bytes(res.path("restore_bytes")) + " at "
                        + bytes(res.path("restore_bytes_per_second")) + "/s",
                "WAL replay (start, replay, promote)",
                seconds(rto.path("wal_replay_seconds")) + ", " + bytes(res.path("wal_replay_bytes")) + " ("
                        + text(res.path("wal_replay_segments")) + " segments) to "
                        + text(res.path("recovered_to_lsn")),
                "Validation and assertions",
                seconds(rto.path("validation_seconds")),
                "Total",
                seconds(rto.path("seconds")));

        d.blocks.add(new Heading(2, "Data loss"));
        JsonNode rpo = res.path("rpo");
        if (rpo.path("measured").asBoolean(false)) {
            d.keyValues(
                    "RPO",
                    seconds(rpo.path("seconds")),
                    "Commits the copy lacks",
                    text(rpo.path("lost_commits")) + " (" + bytes(rpo.path("lost_wal_bytes")) + " of WAL)",
                    "Oldest and newest lost commit",
                    text(rpo.path("source_oldest_lost_commit")) + " … " + text(rpo.path("source_newest_lost_commit")),
                    "Newest commit recovered",
                    text(rpo.path("recovered_newest_commit")),
                    "Source position read (the moment of the disaster)",
                    text(rpo.path("source_flush_lsn")) + " at " + text(rpo.path("source_read_at")));
        } else {
            d.blocks.add(new Note("Not measured: " + text(rpo.path("reason"))));
        }

        d.blocks.add(new Heading(2, "Validation"));
        JsonNode v = res.path("validation");
        if (v.isMissingNode()) {
            d.blocks.add(new Note("The drill ended before its copy was validated."));
        } else {
            d.keyValues(
                    "Files checked",
                    text(v.path("filesChecked")) + " (" + bytes(v.path("bytesChecked")) + ")",
                    "Result",
                    v.path("problems").isEmpty()
                            ? "no problems"
                            : v.path("problems").size() + " problem(s)");
            List<List<String>> dbs = new ArrayList<>();
            for (JsonNode db : v.path("databases")) {
                dbs.add(List.of(
                        db.path("name").asText(),
                        text(db.path("heapRelationsChecked")),
                        text(db.path("btreeIndexesChecked")),
                        text(db.path("visibilityRelationsChecked")),
                        db.path("corruption").isEmpty()
                                ? "none"
                                : db.path("corruption").size() + " finding(s)"));
            }
            if (!dbs.isEmpty()) {
                d.blocks.add(new Table(
                        List.of("database", "heap relations", "B-tree indexes", "visibility maps", "corruption"), dbs));
            }
            for (JsonNode p : v.path("problems")) {
                d.blocks.add(new Note("Problem: " + p.asText()));
            }
        }

        d.blocks.add(new Heading(2, "Assertions"));
        List<List<String>> as = new ArrayList<>();
        for (JsonNode a : res.path("assertions")) {
            as.add(List.of(
                    text(a.path("name")),
                    text(a.path("database")),
                    text(a.path("sql")),
                    text(a.path("expect")),
                    a.hasNonNull("error") ? "error: " + a.path("error").asText() : text(a.path("actual")),
                    a.path("passed").asBoolean() ? "passed" : "FAILED"));
        }
        if (as.isEmpty()) {
            d.blocks.add(new Note("None given."));
        } else {
            d.blocks.add(new Table(List.of("name", "database", "query", "expected", "got", "verdict"), as));
        }

        d.blocks.add(new Heading(2, "Teardown"));
        JsonNode t = res.path("teardown");
        d.keyValues(
                "Scratch directory",
                text(t.path("scratch_directory")),
                "Server stopped",
                text(t.path("server_stopped")),
                "Copy deleted",
                text(t.path("deleted"))
                        + (t.hasNonNull("error") ? " (" + t.path("error").asText() + ")" : ""));

        d.blocks.add(new Heading(2, "Evidence"));
        DrillReports.Integrity i = s.integrity();
        d.keyValues(
                "SHA-256 of the report JSON",
                s.summary().sha256(),
                "Audit entry",
                i.auditSeq() == null ? "none" : "#" + i.auditSeq() + " (" + DrillReports.AUDIT_ACTION + ")",
                "Intact",
                i.intact() ? "yes: the report hashes to what the audit chain recorded" : "NO: " + i.problem(),
                "JSON",
                s.summary().link());
        return d;
    }

    private void keyValues(String... kv) {
        List<List<String>> rows = new ArrayList<>();
        for (int i = 0; i < kv.length; i += 2) {
            rows.add(List.of(kv[i], kv[i + 1]));
        }
        blocks.add(new Table(null, rows));
    }

    private static List<String> objectiveRow(String name, JsonNode o) {
        if (o.isMissingNode()) {
            return List.of(name, "-", "-", "not judged (the drill ended early)");
        }
        String verdict = o.path("met").isBoolean()
                ? (o.path("met").asBoolean() ? "met" : "MISSED")
                : "not judged: " + text(o.path("reason"));
        return List.of(
                name,
                seconds(o.path("measured_seconds")),
                o.path("target_seconds").isNumber() ? seconds(o.path("target_seconds")) : "-",
                verdict);
    }

    static String seconds(JsonNode n) {
        if (!n.isNumber()) {
            return "-";
        }
        double s = n.asDouble();
        if (s < 120) {
            return String.format(Locale.ROOT, "%.1f s", s);
        }
        long whole = Math.round(s);
        return String.format(Locale.ROOT, "%.0f s (%d:%02d:%02d)", s, whole / 3600, whole / 60 % 60, whole % 60);
    }

    static String bytes(JsonNode n) {
        if (!n.isNumber() || n.asDouble() < 0) {
            return "-";
        }
        double b = n.asDouble();
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        int u = 0;
        while (b >= 1024 && u < units.length - 1) {
            b /= 1024;
            u++;
        }
        return u == 0 ? String.format(Locale.ROOT, "%.0f B", b) : String.format(Locale.ROOT, "%.1f %s", b, units[u]);
    }

    private static String text(JsonNode n) {
        return n == null || n.isMissingNode() || n.isNull() ? "-" : n.asText();
    }

    String toMarkdown() {
        StringBuilder out = new StringBuilder();
        for (Block b : blocks) {
            switch (b) {
                case Heading h ->
                    out.append("#".repeat(h.level()))
                            .append(' ')
                            .append(h.text())
                            .append("\n\n");
                case Note n -> out.append(md(n.text())).append("\n\n");
                case Table t -> {
                    List<String> header = t.header() == null ? List.of("", "") : t.header();
                    out.append(mdRow(header)).append('\n');
                    out.append("|").append("---|".repeat(header.size())).append('\n');
                    for (List<String> row : t.rows()) {
                        out.append(mdRow(row)).append('\n');
                    }
                    out.append('\n');
                }
            }
        }
        return out.toString();
    }

    private static String mdRow(List<String> cells) {
        StringBuilder s = new StringBuilder("|");
        for (String c : cells) {
            s.append(' ').append(md(c)).append(" |");
        }
        return s.toString();
    }

    private static String md(String s) {
        return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ");
    }

    String toHtml() {
        StringBuilder out =
                new StringBuilder("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
        Heading title = (Heading) blocks.getFirst();
        out.append(html(title.text()))
                .append("</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
                        + "table{border-collapse:collapse;margin-bottom:1em}"
                        + "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
                        + "</style></head><body>\n");
        for (Block b : blocks) {
            switch (b) {
                case Heading h ->
                    out.append("<h")
                            .append(h.level())
                            .append('>')
                            .append(html(h.text()))
                            .append("</h")
                            .append(h.level())
                            .append(">\n");
                case Note n -> out.append("<p>").append(html(n.text())).append("</p>\n");
                case Table t -> {
                    out.append("<table>\n");
                    if (t.header() != null) {
                        out.append("<tr>");
                        t.header()
                                .forEach(c -> out.append("<th>").append(html(c)).append("</th>"));
                        out.append("</tr>\n");
                    }
                    for (List<String> row : t.rows()) {
                        out.append("<tr>");
                        for (int i = 0; i < row.size(); i++) {
                            String tag = t.header() == null && i == 0 ? "th" : "td";
                            out.append('<')
                                    .append(tag)
                                    .append('>')
                                    .append(html(row.get(i)))
                                    .append("</")
                                    .append(tag)
                                    .append('>');
                        }
                        out.append("</tr>\n");
                    }
                    out.append("</table>\n");
                }
            }
        }
        return out.append("</body></html>\n").toString();
    }

    private static String html(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
