package dev.lifeboat.cli.output;

import com.fasterxml.jackson.databind.JsonNode;

/** The controller's RPO/RTO status as a table ({@code status}, {@code quickstart}). */
public final class StatusTable {
    private StatusTable() {}

    /** One line per database, then its regions and problems. */
    public static void print(JsonNode status) {
        System.out.printf(
                "%-20s %-9s %-16s %-22s %-22s %s%n",
                "DATABASE", "TIER", "AGENT", "RPO / TARGET", "RTO / TARGET", "STATUS");
        for (JsonNode d : status) {
            String rpo = seconds(d.path("rpoSeconds")) + " / " + seconds(d.path("rpoTargetSeconds"));
            String rto = seconds(d.path("rto").path("seconds")) + " / " + seconds(d.path("rtoTargetSeconds"));
            System.out.printf(
                    "%-20s %-9s %-16s %-22s %-22s %s%n",
                    d.path("database").asText(),
                    d.path("tier").asText(),
                    d.path("agent").asText()
                            + (d.path("agentState").asText().equals("connected")
                                    ? ""
                                    : " (" + d.path("agentState").asText() + ")"),
                    rpo,
                    rto,
                    d.path("compliant").asBoolean() ? "ok" : "NOT MET");
            for (JsonNode r : d.path("regions")) {
                System.out.printf(
                        "  region %-14s RPO %s%s%n",
                        r.path("region").asText(),
                        seconds(r.path("rpoSeconds")),
                        r.path("stale").asBoolean() ? " (stale: agent not reporting)" : "");
            }
            for (JsonNode p : d.path("problems")) {
                System.out.println("  - " + p.asText());
            }
        }
    }

    static String seconds(JsonNode n) {
        if (n == null || n.isMissingNode() || n.isNull()) {
            return "unknown";
        }
        double s = n.asDouble();
        if (s < 120) {
            return String.format("%.0f s", s);
        }
        if (s < 7200) {
            return String.format("%.1f min", s / 60);
        }
        return String.format("%.1f h", s / 3600);
    }
}
