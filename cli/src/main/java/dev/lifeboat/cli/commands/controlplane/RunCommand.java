package dev.lifeboat.cli.commands.controlplane;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.cli.ExitCodeException;
import dev.lifeboat.cli.options.ControllerOptions;
import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.output.Sizes;
import dev.lifeboat.common.Durations;
import dev.lifeboat.controller.client.ControllerClient;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "run",
        description = "Start a job through the controller on the database's agent (full, incr, diff, pitr, drill, "
                + "verify, expire, replicate, restore, wal-stream), optionally waiting for it to end.")
public final class RunCommand implements Callable<Integer> {
    @Mixin
    ControllerOptions controller;

    @Mixin
    OutputOptions output;

    @Parameters(
            index = "0",
            paramLabel = "TYPE",
            description = "Job type, e.g. full, incr, drill, pitr, or BACKUP_FULL.")
    String type;

    @Option(
            names = {"-d", "--database"},
            required = true,
            description = "The database, as the controller config names it.")
    String database;

    @Option(
            names = {"-p", "--param"},
            paramLabel = "KEY=VALUE",
            description = "Job parameter (see docs/agent.md), repeatable.")
    Map<String, String> params = new LinkedHashMap<>();

    @Option(names = "--wait", description = "Wait for the job to end; exit 0 only if it completed.")
    boolean waitForEnd;

    @Option(
            names = "--timeout",
            defaultValue = "24h",
            description = "With --wait: give up after this long. Default: ${DEFAULT-VALUE}.")
    String timeout;

    @Override
    public Integer call() throws Exception {
        ControllerClient c = controller.client();
        JsonNode job = c.post("api/v1/jobs", Map.of("database", database, "type", type, "params", params));
        String id = job.path("id").asText();
        boolean json = output.json();
        if (!json) {
            System.out.printf(
                    "job %s (%s of %s on %s) %s%n",
                    id,
                    job.path("type").asText(),
                    database,
                    job.path("agentId").asText(),
                    job.path("state").asText().toLowerCase());
        }
        if (waitForEnd) {
            Instant end = Instant.now().plus(Durations.parse(timeout));
            String lastLine = "";
            while (!ended(job) && Instant.now().isBefore(end)) {
                Thread.sleep(1000);
                job = c.get("api/v1/jobs/" + id);
                String line = progress(job);
                if (!json && !output.quiet() && !ended(job) && !line.equals(lastLine)) {
                    System.out.println(line);
                    lastLine = line;
                }
            }
            if (!ended(job)) {
                throw new ExitCodeException(1, "job " + id + " has not ended after " + timeout + "; it keeps running");
            }
        }
        if (json) {
            output.printJson(job);
        } else if (ended(job)) {
            String state = job.path("state").asText().toLowerCase();
            String message = job.path("message").asText("");
            System.out.printf(
                    "job %s %s%s%n", id, state, message.isBlank() || message.equals(state) ? "" : ": " + message);
        }
        return !waitForEnd || job.path("state").asText().equals("COMPLETED") ? 0 : 1;
    }

    private static boolean ended(JsonNode j) {
        return switch (j.path("state").asText()) {
            case "COMPLETED", "FAILED", "CANCELLED" -> true;
            default -> false;
        };
    }

    private static String progress(JsonNode j) {
        long done = j.path("bytesDone").asLong();
        long total = j.path("bytesTotal").asLong();
        double eta = j.path("etaSeconds").asDouble(-1);
        return String.format(
                "  %s%s%s%s",
                j.path("state").asText().toLowerCase(),
                j.path("phase").isTextual() ? " " + j.path("phase").asText() : "",
                total > 0 ? String.format(" %.0f %% of %s", done * 100.0 / total, Sizes.format(total)) : "",
                eta > 0
                        ? ", about "
                                + Duration.ofSeconds((long) Math.ceil(eta))
                                        .toString()
                                        .substring(2)
                                        .toLowerCase() + " left"
                        : "");
    }
}
