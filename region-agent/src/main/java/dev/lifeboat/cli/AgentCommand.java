package dev.lifeboat.cli;

import dev.lifeboat.agent.AgentConfig;
import dev.lifeboat.agent.AgentServer;
import dev.lifeboat.agent.JobManager;
import dev.lifeboat.proto.v1.JobEvent;
import io.grpc.ServerCredentials;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
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
        ServerCredentials creds = AgentServer.credentials(cfg);
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        JobManager jobs = new JobManager(cfg, registry);
        for (JobEvent e : jobs.interruptedAtStartup()) {
            System.err.println("agent: job " + e.getJobId() + " was running when the agent last stopped: marked failed ("
                    + e.getMessage() + ")");
        }
        AgentServer server;
        try {
            server = new AgentServer(cfg.listen(), creds, jobs).start();
        } catch (IOException e) {
            jobs.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            System.err.println("agent: stopping: cancelling running jobs");
            server.close();
            jobs.close();
            stopped.countDown();
        }, "agent-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        System.err.printf("agent %s (region %s) serving the Jobs API on %s:%d (%s); %d database(s): %s; state in %s%n",
                cfg.id(), cfg.region(), cfg.listen().host(), server.port(),
                cfg.insecureDev() ? "INSECURE: no TLS, loopback only" : "mutual TLS", cfg.databases().size(),
                String.join(", ", cfg.databaseNames()), cfg.stateDir());
        List<String> streams = jobs.ensureWalStreams();
        for (String id : streams) {
            System.err.println("agent: started WAL stream job " + id);
        }
        stopped.await();
        return 0;
    }
}
