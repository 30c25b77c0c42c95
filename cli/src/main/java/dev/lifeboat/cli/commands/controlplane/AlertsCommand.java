package dev.lifeboat.cli.commands.controlplane;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.cli.options.ControllerOptions;
import dev.lifeboat.cli.options.OutputOptions;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "alerts", description = "Open alerts from the controller (or the newest of all with --all).")
public final class AlertsCommand implements Callable<Integer> {
    @Mixin
    ControllerOptions controller;

    @Mixin
    OutputOptions output;

    @Option(names = "--all", description = "Resolved ones too, newest first.")
    boolean all;

    @Override
    public Integer call() throws Exception {
        JsonNode alerts = controller.client().get("api/v1/alerts" + (all ? "?state=all" : ""));
        if (output.json()) {
            output.printJson(alerts);
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
