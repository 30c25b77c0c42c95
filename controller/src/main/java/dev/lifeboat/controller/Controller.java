package dev.lifeboat.controller;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.lifeboat.common.HostPort;
import dev.lifeboat.controller.agents.AgentLinkService;
import dev.lifeboat.controller.agents.AgentRegistry;
import dev.lifeboat.controller.alerts.Alert;
import dev.lifeboat.controller.alerts.AlertNotifier;
import dev.lifeboat.controller.alerts.WebhookTarget;
import dev.lifeboat.controller.api.RestApi;
import dev.lifeboat.controller.api.Tokens;
import dev.lifeboat.controller.audit.AuditLog;
import dev.lifeboat.controller.db.Database;
import dev.lifeboat.controller.drills.DrillReports;
import dev.lifeboat.controller.events.EventBus;
import dev.lifeboat.controller.jobs.JobDispatcher;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.controller.jobs.JobStore;
import dev.lifeboat.controller.jobs.RecoveryCatalogs;
import dev.lifeboat.controller.policy.Inventory;
import dev.lifeboat.controller.policy.PolicyScheduler;
import dev.lifeboat.controller.status.AlertEvaluator;
import dev.lifeboat.controller.status.MetricStore;
import dev.lifeboat.controller.status.RpoHistory;
import dev.lifeboat.controller.status.SlaStatus;
import dev.lifeboat.controller.status.StatusGauges;
import dev.lifeboat.security.MutualTls;
import dev.lifeboat.security.TlsFiles;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The control plane in one process: the agents' gRPC endpoint, scheduler, RPO/RTO and alerts, audit chain and REST
 * API. */
public final class Controller implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Controller.class);
    public static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(SerializationFeature.WRITE_DURATIONS_AS_TIMESTAMPS);

    /** The newest audit entry's hash, kept outside the database so a cut-off tail is detected too. */
    public static final String AUDIT_HEAD = "audit.head";

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private Server grpc;
    private RestApi rest;
    private AuditLog auditLog;
    private AlertEvaluator alerts;
    private EventBus events;
    private SlaStatus status;
    private RpoHistory history;
    private JobDispatcher dispatcher;
    private JobStore jobs;

    private Controller() {}

    public static Controller start(ControllerConfig config) throws Exception {
        Controller c = new Controller();
        try {
            c.startAll(config);
        } catch (Exception | Error e) {
            c.close();
            throw e;
        }
        return c;
    }

    private void startAll(ControllerConfig config) throws Exception {
        Path stateDir = Path.of(config.stateDir);
        Files.createDirectories(stateDir);
        String password = config.database.passwordEnv != null
                ? System.getenv(config.database.passwordEnv)
                : config.database.password;
        Database db = Database.open(config.database.url, config.database.user, password, stateDir);
        closeables.add(db);
        Path auditKey = config.auditKeyFile != null ? Path.of(config.auditKeyFile) : stateDir.resolve("audit.key");
        Path auditHead = config.auditHeadFile != null ? Path.of(config.auditHeadFile) : stateDir.resolve(AUDIT_HEAD);
        if (config.database.url == null && auditKey.startsWith(stateDir)) {
            log.warn(
                    "the audit chain key {} sits beside the embedded database: whoever can edit one can rewrite the "
                            + "chain; "
                            + "set audit-key-file and audit-head-file to a place the database's writers cannot reach",
                    auditKey);
        }
        auditLog = new AuditLog(db.dataSource(), AuditLog.loadOrCreateKey(auditKey)).recordHeadIn(auditHead);
        Auditor audit = (actor, action, target, detail) -> {
            try {
                auditLog.append(actor, action, target, JSON.writeValueAsString(detail));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        };
        Duration heartbeat = ControllerConfig.durationOf("heartbeat-interval", config.heartbeatInterval);
        events = new EventBus();
        jobs = new JobStore(db.dataSource());
        MetricStore metrics = new MetricStore();
        Inventory inventory = new Inventory(config);
        AgentRegistry agents = new AgentRegistry(db.dataSource(), jobs, events, audit, heartbeat);
        closeables.add(agents);
        dispatcher = new JobDispatcher(inventory, agents, jobs, events, audit);
        status = new SlaStatus(inventory, agents, jobs, metrics);
        DrillReports drills = new DrillReports(db.dataSource(), inventory, audit, auditLog);
        AlertNotifier notifier = new AlertNotifier(
                db.dataSource(),
                webhooks(config),
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build());
        closeables.add(notifier);
        alerts = new AlertEvaluator(
                db.dataSource(), status, jobs, metrics, config.alerts, events, audit, new AlertEvaluator.Sink() {
                    @Override
                    public void raised(Alert a) {
                        notifier.raised(a);
                    }

                    @Override
                    public void resolved(Alert a) {
                        notifier.resolved(a);
                    }
                });
        agents.addListener(alerts);

        TlsFiles tls = config.tls == null
                ? null
                : new TlsFiles(Path.of(config.tls.ca), Path.of(config.tls.cert), Path.of(config.tls.key));
        if (tls != null) {
            tls.check();
        }
        Duration every = ControllerConfig.durationOf("evaluate-interval", config.evaluateInterval);
        ScheduledExecutorService evaluator = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sla-evaluator");
            t.setDaemon(true);
            return t;
        });
        closeables.add(evaluator::shutdownNow);
        // a job's end is evaluated at once, but on the evaluator's thread: never on an agent's stream
        AgentLinkService link = new AgentLinkService(
                agents,
                jobs,
                metrics,
                events,
                j -> evaluator.execute(() -> {
                    keepDrillReport(drills, j);
                    refreshCatalog(j);
                    evaluateSafely();
                }),
                (agent, database) -> inventory
                        .database(database)
                        .map(d -> d.agent().equals(agent))
                        .orElse(false));
        ServerCredentials creds = tls != null ? MutualTls.serverCredentials(tls) : InsecureServerCredentials.create();
        InetSocketAddress grpcAddr =
                HostPort.parse(config.grpcListen, "grpc-listen").socketAddress();
        grpc = NettyServerBuilder.forAddress(grpcAddr, creds)
                .addService(
                        tls != null
                                ? ServerInterceptors.intercept(link, MutualTls.identityInterceptor())
                                : link.bindService())
                .permitKeepAliveTime(5, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true)
                .build()
                .start();

        PolicyScheduler scheduler = new PolicyScheduler(inventory, dispatcher, jobs, audit);
        closeables.add(scheduler);
        scheduler.start(agent -> agents.session(agent).isPresent());

        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        StatusGauges gauges = new StatusGauges(registry, inventory, status, drills);

        history = new RpoHistory(ControllerConfig.durationOf("history-step", config.historyStep));
        evaluator.scheduleWithFixedDelay(
                () -> {
                    evaluateSafely().ifPresent(all -> history.record(all, Instant.now()));
                    try {
                        gauges.registerNewRegions();
                    } catch (RuntimeException e) {
                        log.error("status gauges could not be updated", e);
                    }
                    try {
                        scheduler.enforceWalStreams(agents);
                    } catch (RuntimeException e) {
                        log.error("WAL stream check failed", e);
                    }
                },
                every.toMillis(),
                every.toMillis(),
                TimeUnit.MILLISECONDS);

        Gauge.builder(
                        "lifeboat_controller_agents_connected",
                        () -> agents.list().stream()
                                .filter(AgentRegistry.AgentInfo::connected)
                                .count())
                .register(registry);
        Gauge.builder("lifeboat_controller_alerts_open", () -> alerts.open().size())
                .register(registry);

        SSLContext httpsContext = tls != null ? MutualTls.serverSslContext(tls, false) : null;
        rest = new RestApi(
                        new RestApi.Services(
                                inventory,
                                agents,
                                jobs,
                                dispatcher,
                                status,
                                alerts,
                                events,
                                auditLog,
                                auditHead,
                                audit,
                                scheduler,
                                drills,
                                history,
                                registry),
                        new Tokens(config.tokens),
                        JSON,
                        HostPort.parse(config.httpListen, "http-listen").socketAddress(),
                        httpsContext)
                .start();
        closeables.add(rest);
        audit.record(
                "controller",
                "controller.started",
                "controller",
                Map.of(
                        "grpc",
                        grpcAddr.toString(),
                        "http",
                        config.httpListen,
                        "tls",
                        tls != null,
                        "databases",
                        inventory.databases().size()));
        log.info(
                "controller up: agents dial {} ({}), REST on port {}",
                grpcAddr,
                tls != null ? "mutual TLS" : "PLAINTEXT, insecure-dev",
                rest.port());
    }

    private static void keepDrillReport(DrillReports drills, JobRecord j) {
        try {
            drills.jobEnded(j);
        } catch (RuntimeException e) {
            log.error("could not keep the report of drill {}", j.id(), e);
        }
    }

    private void refreshCatalog(JobRecord j) {
        try {
            RecoveryCatalogs.refreshAfter(j, dispatcher);
        } catch (RuntimeException e) {
            log.error("could not read the catalog of {} again after job {}", j.database(), j.id(), e);
        }
    }

    /** The status the pass judged, or nothing when it failed (logged). */
    private Optional<List<SlaStatus.DatabaseStatus>> evaluateSafely() {
        try {
            return Optional.of(alerts.evaluate());
        } catch (RuntimeException e) {
            log.error("alert evaluation failed", e);
            return Optional.empty();
        }
    }

    private static List<WebhookTarget> webhooks(ControllerConfig config) {
        List<WebhookTarget> out = new ArrayList<>();
        for (ControllerConfig.Webhook w : config.webhooks) {
            WebhookTarget.Format f = switch (w.format.toLowerCase(Locale.ROOT)) {
                case "pagerduty" -> WebhookTarget.Format.PAGERDUTY_EVENTS_V2;
                case "slack" -> WebhookTarget.Format.SLACK;
                case "generic" -> WebhookTarget.Format.GENERIC_JSON;
                default ->
                    throw new IllegalArgumentException(
                            "webhook " + w.name + ": format must be generic, pagerduty or slack");
            };
            String key = w.routingKeyEnv != null ? System.getenv(w.routingKeyEnv) : w.routingKey;
            out.add(new WebhookTarget(
                    w.name, URI.create(w.url), f, key, Map.copyOf(w.headers), new HashSet<>(w.severities)));
        }
        return out;
    }

    public int grpcPort() {
        return grpc.getPort();
    }

    public int httpPort() {
        return rest.port();
    }

    public AuditLog auditLog() {
        return auditLog;
    }

    public EventBus events() {
        return events;
    }

    public RpoHistory history() {
        return history;
    }

    public SlaStatus status() {
        return status;
    }

    public AlertEvaluator alerts() {
        return alerts;
    }

    public JobDispatcher dispatcher() {
        return dispatcher;
    }

    public JobStore jobs() {
        return jobs;
    }

    /** Blocks until the gRPC server ends. */
    public void awaitTermination() throws InterruptedException {
        grpc.awaitTermination();
    }

    @Override
    public void close() {
        if (grpc != null) {
            grpc.shutdownNow();
        }
        for (int i = closeables.size() - 1; i >= 0; i--) {
            try {
                closeables.get(i).close();
            } catch (Exception e) {
                log.warn("stopping the controller: {}", e.toString());
            }
        }
        closeables.clear();
    }
}
