package dev.lifeboat.agent;

import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.repository.crypto.CryptoProvider;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * The agent daemon's own entry point: {@code java -jar lifeboat-region-agent.jar --config FILE}. Its classpath is the
 * agent's dependency set only (the jar's manifest lists it), so a database host runs no control-plane code.
 * {@code lifeboat agent} takes the same options and runs {@link #run}.
 */
public final class AgentMain {
    static final String USAGE = """
            Usage: lifeboat agent --config FILE [-v]   (or java -jar lifeboat-region-agent.jar ...)
            Run a region agent until SIGTERM (stopping cancels running jobs). Config: see docs/agent.md.
              --config FILE   agent config (YAML)
              -v, --verbose   log what happens, and stack traces on errors
            """;

    private AgentMain() {}

    public static void main(String[] args) {
        CryptoProvider.preload();
        Path config = null;
        boolean verbose = System.getenv("LIFEBOAT_DEBUG") != null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--config" -> config = i + 1 < args.length ? Path.of(args[++i]) : null;
                case "-v", "--verbose" -> verbose = true;
                case "-h", "--help" -> {
                    System.out.print(USAGE);
                    System.exit(0);
                }
                default -> {
                    if (args[i].startsWith("--config=")) {
                        config = Path.of(args[i].substring("--config=".length()));
                    } else {
                        usageError("unknown option: " + args[i]);
                    }
                }
            }
        }
        if (config == null) {
            usageError("--config FILE is required");
        }
        // chosen before the first logger exists; an operator's -Dlogback.configurationFile wins
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty(
                    "logback.configurationFile",
                    verbose ? "dev/lifeboat/agent/logback-verbose.xml" : "dev/lifeboat/agent/logback.xml");
        }
        try {
            run(config);
            System.exit(0);
        } catch (Exception e) {
            if (verbose) {
                e.printStackTrace(System.err);
            }
            System.err.println(
                    "agent: error: " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
            System.exit(1);
        }
    }

    private static void usageError(String message) {
        System.err.println("agent: " + message);
        System.err.print(USAGE);
        System.exit(2);
    }

    /** Starts the agent, reports what it serves and blocks until the JVM is asked to stop (SIGTERM). */
    public static void run(Path configFile) throws Exception {
        AgentConfig cfg = AgentConfig.load(configFile);
        Agent agent = Agent.start(cfg);
        for (JobEvent e : agent.jobs().interruptedAtStartup()) {
            System.err.println("agent: job " + e.getJobId()
                    + " was running when the agent last stopped: marked failed (" + e.getMessage() + ")");
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(
                () -> {
                    System.err.println("agent: stopping: cancelling running jobs");
                    agent.close();
                    stopped.countDown();
                },
                "agent-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        System.err.printf(
                "agent %s (region %s) serving the Jobs API on %s:%d (%s), metrics on port %d; %d database(s): %s; "
                        + "controller: %s; state in %s%n",
                cfg.id(),
                cfg.region(),
                cfg.listen().host(),
                agent.jobsPort(),
                cfg.insecureDev() ? "INSECURE: no TLS, loopback only" : "mutual TLS",
                agent.metricsPort(),
                cfg.databases().size(),
                String.join(", ", cfg.databaseNames()),
                cfg.controller() == null
                        ? "none (standalone)"
                        : cfg.controller().target(),
                cfg.stateDir());
        stopped.await();
    }
}
