package dev.lifeboat.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.util.Json;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "alerts", description = "Open alerts from the controller (or the newest of all with --all).")
final class AlertsCommand implements Callable<Integer> {
    @Mixin
    ControllerOptions controller;

    @Option(names = "--all", description = "Resolved ones too, newest first.")
    boolean all;

    @Option(names = "--json", description = "Print them as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        JsonNode alerts = controller.client().get("api/v1/alerts" + (all ? "?state=all" : ""));
        if (json) {
            System.out.println(Json.pretty(alerts));
            return 0;
        }
        if (alerts.isEmpty()) {
            System.out.println(all ? "no alerts" : "no open alerts");
        }
        for (JsonNode a : alerts) {
            System.out.printf(
                    "%-8s %-20s %s  %s%s%n",
                    a.path("severity").asText().toUpperCase(),
                    a.path("kind").asText(),
                    a.path("raisedAt").asText(),
                    a.path("summary").asText(),
                    a.path("resolvedAt").isTextual()
                            ? " (resolved " + a.path("resolvedAt").asText() + ")"
                            : "");
        }
        return 0;
    }
}
