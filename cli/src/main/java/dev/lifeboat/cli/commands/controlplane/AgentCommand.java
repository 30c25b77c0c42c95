package dev.lifeboat.cli.commands.controlplane;

import dev.lifeboat.agent.AgentMain;
import dev.lifeboat.cli.options.LoggingOptions;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code lifeboat agent}: the agent daemon ({@link AgentMain}) run from the CLI; the same options, the same agent. */
@Command(
        name = "agent",
        description = {
            "Run a region agent: the Jobs API (gRPC, mutual TLS) and the backup, restore, "
                    + "WAL-streaming, verify, expire, replication and drill jobs it runs on this host. Runs until "
                    + "SIGTERM; stopping "
                    + "cancels running jobs. Jobs that were running when the agent was killed are reported failed "
                    + "(interrupted) "
                    + "at the next start.",
            "Config: see docs/agent.md."
        })
public final class AgentCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "Agent config (YAML).")
    Path config;

    @Mixin
    LoggingOptions logging;

    @Override
    public Integer call() throws Exception {
        AgentMain.run(config);
        return 0;
    }
}
