package dev.lifeboat.cli;

import dev.lifeboat.agent.Agent;
import dev.lifeboat.agent.AgentConfig;
import dev.lifeboat.proto.v1.JobEvent;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "agent", description = {"Run a region agent: the Jobs API (gRPC, mutual TLS) and the backup, restore, "
        + "WAL-streaming, verify, expire, replication and drill jobs it runs on this host. Runs until SIGTERM; stopping "
        + "cancels running jobs. Jobs that were running when the agent was killed are reported failed (interrupted) "
        + "at the next start.", "Config: see docs/agent.md."})
final class AgentCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "Agent config (YAML).")
    Path config;

    @Option(names = {"-v", "--verbose"}, description = "Log what happens, and stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        AgentConfig cfg = AgentConfig.load(config);
        Agent agent = Agent.start(cfg);
        for (JobEvent e : agent.jobs().interruptedAtStartup()) {
            System.err.println("agent: job " + e.getJobId() + " was running when the agent last stopped: marked failed ("
                    + e.getMessage() + ")");
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            System.err.println("agent: stopping: cancelling running jobs");
            agent.close();
            stopped.countDown();
        }, "agent-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        System.err.printf("agent %s (region %s) serving the Jobs API on %s:%d (%s), metrics on port %d; %d database(s): %s; "
                        + "controller: %s; state in %s%n",
                cfg.id(), cfg.region(), cfg.listen().host(), agent.jobsPort(),
                cfg.insecureDev() ? "INSECURE: no TLS, loopback only" : "mutual TLS", agent.metricsPort(), cfg.databases().size(),
                String.join(", ", cfg.databaseNames()), cfg.controller() == null ? "none (standalone)" : cfg.controller().target(),
                cfg.stateDir());
        stopped.await();
        return 0;
    }
}
