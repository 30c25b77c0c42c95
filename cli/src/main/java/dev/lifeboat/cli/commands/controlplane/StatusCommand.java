package dev.lifeboat.cli.commands.controlplane;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.cli.options.ControllerOptions;
import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.output.StatusTable;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "status",
        description = "Every database's measured RPO and estimated RTO against its tier, from the controller.")
public final class StatusCommand implements Callable<Integer> {
    @Mixin
    ControllerOptions controller;

    @Mixin
    OutputOptions output;

    @Option(names = "--check", description = "Exit 3 when any database misses its RPO or RTO.")
    boolean check;

    @Override
    public Integer call() throws Exception {
        JsonNode status = controller.client().get("api/v1/status");
        boolean allMet = true;
        for (JsonNode d : status) {
            allMet &= d.path("compliant").asBoolean();
        }
        if (output.json()) {
            output.printJson(status);
        } else {
            StatusTable.print(status);
        }
        return check && !allMet ? 3 : 0;
    }
}
