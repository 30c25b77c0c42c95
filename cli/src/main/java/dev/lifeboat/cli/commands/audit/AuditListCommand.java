package dev.lifeboat.cli.commands.audit;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.cli.options.ControllerOptions;
import dev.lifeboat.cli.options.OutputOptions;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "list", description = "Print audit entries from the controller.")
public final class AuditListCommand implements Callable<Integer> {
    @Mixin
    ControllerOptions controller;

    @Mixin
    OutputOptions output;

    @Option(names = "--after", defaultValue = "0", description = "Only entries after this sequence number.")
    long after;

    @Option(names = "--limit", defaultValue = "100")
    int limit;

    @Override
    public Integer call() throws Exception {
        JsonNode entries = controller.client().get("api/v1/audit?after=" + after + "&limit=" + limit);
        if (output.json()) {
            output.printJson(entries);
            return 0;
        }
        for (JsonNode e : entries) {
            System.out.printf(
                    "%6d %s %-24s %-22s %s %s%n",
                    e.path("seq").asLong(),
                    e.path("at").asText(),
                    e.path("actor").asText(),
                    e.path("action").asText(),
                    e.path("target").asText(),
                    e.path("detail").asText());
        }
        return 0;
    }
}
