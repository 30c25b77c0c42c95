package dev.lifeboat.agent;

import dev.lifeboat.agent.link.ControllerLink;
import dev.lifeboat.agent.metrics.AgentMetrics;
import dev.lifeboat.agent.metrics.ProbeTarget;
import dev.lifeboat.agent.metrics.RpoProbe;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.security.MutualTls;
import dev.lifeboat.security.Pki;
import dev.lifeboat.security.TlsFiles;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.micrometer.core.instrument.Gauge;
import java.io.IOException;
import java.net.URI;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A region agent in one process: the job engine, its Jobs API, the Prometheus endpoint, the RPO probe of every
 * database, and (when a controller is configured) the dial-out link that streams events and metrics to it.
 */
public final class Agent implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Agent.class);
    public static final String STORAGE_FREE_RATIO = "lifeboat.repository.free.ratio";

    private final AgentConfig config;
    private final List<AutoCloseable> parts = new ArrayList<>();
    private AgentMetrics metrics;
    private JobManager jobs;
    private AgentServer server;
    private ControllerLink link;

    private Agent(AgentConfig config) {
        this.config = config;
    }

    public static Agent start(AgentConfig config) throws IOException {
        Agent a = new Agent(config);
        try {
            a.startAll();
        } catch (IOException | RuntimeException e) {
            a.close();
            throw e;
        }
        return a;
    }

    private void startAll() throws IOException {
        TlsFiles tls = config.tls() == null
                ? null
                : new TlsFiles(
                        config.tls().ca(), config.tls().cert(), config.tls().key());
        // /metrics stays plain HTTP on loopback; anywhere else it needs TLS and a client certificate from the CA
        boolean loopback = config.metricsListen().isLoopback();
        if (!loopback && tls == null) {
            throw new IllegalArgumentException(
                    "metrics-listen " + config.metricsListen() + " is not loopback: it needs tls");
        }
        metrics = new AgentMetrics(
                config.metricsListen().socketAddress(), loopback ? null : MutualTls.serverSslContext(tls, true));
        parts.add(metrics);
        jobs = new JobManager(config, metrics.registry());
        parts.add(jobs);
        // before the Jobs API answers: whoever asks then sees the WAL streams the config asks for
        jobs.ensureWalStreams();
        // archive_command's pushers (wal-push-spool), so PostgreSQL's archiving needs no JVM per segment
        parts.add(new WalPushService(config.databases()));
        server = new AgentServer(config.listen(), AgentServer.credentials(config), jobs).start();
        parts.add(server);
        List<ProbeTarget> targets = new ArrayList<>();
        for (AgentConfig.Database db : config.databases()) {
            try {
                Repository repo = DatabaseAccess.openRepository(db);
                ReplicationConfig replication =
                        db.replication() == null ? null : ReplicationConfig.load(db.replication());
                if (db.pgdata() != null || db.pghost() != null) {
                    targets.add(ProbeTarget.of(
                            db.name(), () -> DatabaseAccess.connections(db), config.region(), repo, replication));
                }
                storageGauge(db);
            } catch (IOException | RuntimeException e) {
                // the database's jobs will fail with the same reason; the agent still serves the others
                log.error(
                        "database {}: cannot open its repository {} for the RPO probe: {}",
                        db.name(),
                        db.repo(),
                        e.getMessage());
            }
        }
        if (!targets.isEmpty()) {
            parts.add(new RpoProbe(metrics.registry(), targets, config.rpoProbeInterval()));
        }
        if (config.controller() != null) {
            ChannelCredentials creds = config.insecureDev()
                    ? InsecureChannelCredentials.create()
                    : MutualTls.channelCredentials(tls, Pki.Role.CONTROLLER);
            String version = Agent.class.getPackage().getImplementationVersion();
            link = new ControllerLink(
                            config.controller().target(),
                            creds,
                            new ControllerLink.Identity(
                                    config.id(),
                                    config.region(),
                                    version == null ? "dev" : version,
                                    config.databaseNames(),
                                    config.maxConcurrentJobs()),
                            jobs,
                            metrics::snapshot,
                            config.rpoProbeInterval())
                    .start();
            parts.add(link);
        }
    }

    /** Free share of a local repository's file system, for the controller's storage-nearly-full alert. */
    private void storageGauge(AgentConfig.Database db) throws IOException {
        if (!db.repo().startsWith("file:")) {
            return;
        }
        Path dir = Path.of(URI.create(db.repo()));
        while (dir != null && !Files.exists(dir)) {
            dir = dir.getParent();
        }
        if (dir == null) {
            return;
        }
        FileStore store = Files.getFileStore(dir);
        Gauge.builder(STORAGE_FREE_RATIO, store, s -> {
                    try {
                        return s.getTotalSpace() == 0 ? Double.NaN : (double) s.getUsableSpace() / s.getTotalSpace();
                    } catch (IOException e) {
                        return Double.NaN;
                    }
                })
                .tag("database", db.name())
                .tag("region", config.region())
                .register(metrics.registry());
    }

    public JobManager jobs() {
        return jobs;
    }

    public int jobsPort() {
        return server.port();
    }

    public int metricsPort() {
        return metrics.port();
    }

    public boolean linkedToController() {
        return link != null && link.isConnected();
    }

    @Override
    public void close() {
        for (int i = parts.size() - 1; i >= 0; i--) {
            try {
                parts.get(i).close();
            } catch (Exception e) {
                log.warn("stopping the agent: {}", e.toString());
            }
        }
        parts.clear();
    }
}
