package dev.lifeboat.controller.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.controller.Auditor;
import dev.lifeboat.controller.agents.AgentRegistry;
import dev.lifeboat.controller.audit.AuditLog;
import dev.lifeboat.controller.dashboard.Dashboard;
import dev.lifeboat.controller.dashboard.Sessions;
import dev.lifeboat.controller.drills.DrillReportDocument;
import dev.lifeboat.controller.drills.DrillReports;
import dev.lifeboat.controller.events.ControllerEvent;
import dev.lifeboat.controller.events.EventBus;
import dev.lifeboat.controller.jobs.JobDispatcher;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.controller.jobs.JobStore;
import dev.lifeboat.controller.jobs.RecoveryCatalogs;
import dev.lifeboat.controller.policy.Inventory;
import dev.lifeboat.controller.policy.PolicyScheduler;
import dev.lifeboat.controller.status.AlertEvaluator;
import dev.lifeboat.controller.status.RpoHistory;
import dev.lifeboat.controller.status.SlaStatus;
import dev.lifeboat.proto.v1.JobType;
import io.javalin.Javalin;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.http.HandlerType;
import io.javalin.http.HttpStatus;
import io.javalin.http.sse.SseClient;
import io.javalin.json.JavalinJackson;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The REST API (JSON, described by {@code /api/v1/openapi.yaml}), the server-sent-events stream and /metrics.
 * Every call needs a bearer token (or a dashboard session) whose role allows it, and every call is written to the
 * audit log. The dashboard's pages are served here too, under /ui.
 */
public final class RestApi implements AutoCloseable {
    public record Services(
            Inventory inventory,
            AgentRegistry agents,
            JobStore jobs,
            JobDispatcher dispatcher,
            SlaStatus status,
            AlertEvaluator alerts,
            EventBus events,
            AuditLog auditLog,
            Path auditHead,
            Auditor audit,
            PolicyScheduler scheduler,
            DrillReports drills,
            RpoHistory history,
            PrometheusMeterRegistry metrics) {}

    private static final Logger log = LoggerFactory.getLogger(RestApi.class);
    private static final String CALLER = "lifeboat.caller";
    private final Javalin app;
    private final Services s;
    private final Tokens tokens;
    private final ObjectMapper json;
    private final Sessions sessions = new Sessions();
    private final Dashboard dashboard;

    public RestApi(Services services, Tokens tokens, ObjectMapper json, InetSocketAddress listen, SSLContext tls) {
        this.s = services;
        this.tokens = tokens;
        this.json = json;
        this.dashboard = new Dashboard(services, tokens, sessions, tls != null);
        this.app = Javalin.create(config -> {
            config.jsonMapper(new JavalinJackson(json, false));
            config.startup.showJavalinBanner = false;
            config.jetty.addConnector((server, httpConfig) -> {
                ServerConnector c;
                if (tls != null) {
                    SslContextFactory.Server ssl = new SslContextFactory.Server();
                    ssl.setSslContext(tls);
                    HttpConfiguration https = new HttpConfiguration(httpConfig);
                    https.addCustomizer(new SecureRequestCustomizer(false));
                    c = new ServerConnector(
                            server, new SslConnectionFactory(ssl, "http/1.1"), new HttpConnectionFactory(https));
                } else {
                    c = new ServerConnector(server, new HttpConnectionFactory(httpConfig));
                }
                c.setHost(listen.getHostString());
                c.setPort(listen.getPort());
                return c;
            });
            routes(config.routes);
        });
    }

    public RestApi start() {
        app.start();
        return this;
    }

    public int port() {
        return app.port();
    }

    private void routes(RoutesConfig r) {
        r.get("/healthz", ctx -> ctx.result("ok"));
        r.get("/api/v1/openapi.yaml", ctx -> {
            try (InputStream in = RestApi.class.getResourceAsStream("/openapi.yaml")) {
                ctx.contentType("application/yaml").result(in.readAllBytes());
            }
        });
        r.get(
                "/metrics",
                guarded(
                        Role.VIEWER,
                        ctx -> ctx.contentType("text/plain; version=0.0.4")
                                .result(s.metrics().scrape())));

        r.get("/api/v1/status", guarded(Role.VIEWER, ctx -> ctx.json(s.status().all())));
        r.get("/api/v1/status/{database}", guarded(Role.VIEWER, ctx -> {
            if (s.inventory().database(ctx.pathParam("database")).isEmpty()) {
                throw new NotFound("no database " + ctx.pathParam("database") + " in the controller's inventory");
            }
            ctx.json(s.status().of(ctx.pathParam("database")));
        }));
        r.get("/api/v1/agents", guarded(Role.VIEWER, ctx -> ctx.json(s.agents().list())));
        r.get(
                "/api/v1/databases",
                guarded(Role.VIEWER, ctx -> ctx.json(s.inventory().databases())));
        r.get(
                "/api/v1/policies",
                guarded(Role.VIEWER, ctx -> ctx.json(s.inventory().policies())));
        r.get(
                "/api/v1/schedules",
                guarded(Role.VIEWER, ctx -> ctx.json(s.scheduler().upcoming())));
        r.get(
                "/api/v1/jobs",
                guarded(
                        Role.VIEWER,
                        ctx -> ctx.json(s.jobs()
                                .list(
                                        ctx.queryParam("database"),
                                        ctx.queryParam("state"),
                                        ctx.queryParam("agent"),
                                        (int) Math.min(10000, intParam(ctx, "limit", 100))))));
        r.get("/api/v1/jobs/{id}", guarded(Role.VIEWER, ctx -> ctx.json(job(ctx.pathParam("id")))));
        r.get("/api/v1/jobs/{id}/events", guarded(Role.VIEWER, ctx -> {
            job(ctx.pathParam("id"));
            ctx.json(s.jobs().events(ctx.pathParam("id")));
        }));
        r.post("/api/v1/jobs", guarded(Role.OPERATOR, this::submit));
        r.get("/api/v1/databases/{database}/catalog", guarded(Role.VIEWER, ctx -> {
            String db = knownDatabase(ctx);
            JobRecord j = RecoveryCatalogs.newest(s.jobs(), db)
                    .orElseThrow(() -> new NotFound("no catalog of " + db + " read yet: POST to this path reads one"));
            ctx.json(Map.of(
                    "job",
                    j.id(),
                    "readAt",
                    j.endedAt(),
                    "catalog",
                    json.readTree(j.resultJson()).path("catalog")));
        }));
        // read-only (the agent lists the repository and plans): viewers may ask, as they may look
        r.post("/api/v1/databases/{database}/catalog", guarded(Role.VIEWER, ctx -> {
            Map<String, String> params = new HashMap<>();
            body(ctx)
                    .properties()
                    .forEach(e -> params.put(e.getKey(), e.getValue().asText()));
            JobRecord j = s.dispatcher()
                    .submit(
                            knownDatabase(ctx),
                            JobType.CATALOG,
                            params,
                            "token:" + caller(ctx).name());
            ctx.status(HttpStatus.CREATED).json(j);
        }));
        r.post("/api/v1/jobs/{id}/cancel", guarded(Role.OPERATOR, ctx -> {
            job(ctx.pathParam("id"));
            JsonNode body = body(ctx);
            String reason =
                    body.path("reason").asText("cancelled by " + caller(ctx).name());
            boolean cancelling = s.dispatcher()
                    .cancel(ctx.pathParam("id"), reason, caller(ctx).name());
            ctx.json(Map.of("cancelling", cancelling));
        }));
        r.get(
                "/api/v1/drills",
                guarded(
                        Role.VIEWER,
                        ctx -> ctx.json(s.drills()
                                .list(ctx.queryParam("database"), (int) Math.min(1000, intParam(ctx, "limit", 100))))));
        r.get("/api/v1/drills/{id}", guarded(Role.VIEWER, ctx -> ctx.json(drill(ctx.pathParam("id")))));
        r.get(
                "/api/v1/drills/{id}/report.md",
                guarded(
                        Role.VIEWER,
                        ctx -> ctx.contentType("text/markdown; charset=utf-8")
                                .result(DrillReportDocument.markdown(drill(ctx.pathParam("id"))))));
        r.get(
                "/api/v1/drills/{id}/report.html",
                guarded(
                        Role.VIEWER,
                        ctx -> ctx.contentType("text/html; charset=utf-8")
                                .result(DrillReportDocument.html(drill(ctx.pathParam("id"))))));
        r.get(
                "/api/v1/alerts",
                guarded(
                        Role.VIEWER,
                        ctx -> ctx.json(
                                "all".equals(ctx.queryParam("state"))
                                        ? s.alerts().recent((int) Math.min(1000, intParam(ctx, "limit", 100)))
                                        : s.alerts().open())));
        r.get(
                "/api/v1/audit",
                guarded(
                        Role.ADMIN,
                        ctx -> ctx.json(s.auditLog().list(intParam(ctx, "after", 0), (int)
                                Math.min(10000, intParam(ctx, "limit", 1000))))));
        r.get(
                "/api/v1/audit/verify",
                guarded(
                        Role.ADMIN,
                        ctx -> ctx.json(s.auditLog()
                                .verify(AuditLog.readAnchor(s.auditHead()).orElse(null)))));
        r.post("/api/v1/alerts/{id}/acknowledge", guarded(Role.OPERATOR, ctx -> {
            JsonNode body = body(ctx);
            ctx.json(s.alerts()
                    .acknowledge(
                            ctx.pathParam("id"),
                            caller(ctx).name(),
                            body.path("note").asText(null))
                    .orElseThrow(() -> new NotFound("no open alert " + ctx.pathParam("id"))));
        }));
        r.sse("/api/v1/events", this::events, Role.VIEWER);
        dashboard.routes(r);

        r.exception(IllegalArgumentException.class, (e, ctx) -> error(ctx, HttpStatus.BAD_REQUEST, e.getMessage()));
        r.exception(IllegalStateException.class, (e, ctx) -> error(ctx, HttpStatus.CONFLICT, e.getMessage()));
        r.exception(NotFound.class, (e, ctx) -> error(ctx, HttpStatus.NOT_FOUND, e.getMessage()));
        r.exception(Denied.class, (e, ctx) -> error(ctx, e.status, e.getMessage()));
        r.exception(Exception.class, (e, ctx) -> {
            log.error("{} {} failed", ctx.method(), ctx.path(), e);
            error(ctx, HttpStatus.INTERNAL_SERVER_ERROR, "internal error: " + e);
        });
        // the SSE route checks its token here: its handler cannot be wrapped
        r.before("/api/v1/events", ctx -> authenticate(ctx, Role.VIEWER));
    }

    private static final class NotFound extends RuntimeException {
        NotFound(String m) {
            super(m);
        }
    }

    private static final class Denied extends RuntimeException {
        final HttpStatus status;

        Denied(HttpStatus status, String m) {
            super(m);
            this.status = status;
        }
    }

    private void error(Context ctx, HttpStatus status, String message) {
        ctx.status(status).json(Map.of("error", message == null ? status.getMessage() : message));
        audit(ctx, status.getCode());
    }

    private Handler guarded(Role needed, Handler h) {
        return ctx -> {
            authenticate(ctx, needed);
            h.handle(ctx);
            audit(ctx, ctx.statusCode());
        };
    }

    private void authenticate(Context ctx, Role needed) {
        String header = ctx.header("Authorization");
        String token = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7) : null;
        Tokens.Caller caller =
                token == null ? sessionCaller(ctx) : tokens.authenticate(token).orElse(null);
        if (caller == null) {
            ctx.header("WWW-Authenticate", "Bearer");
            throw new Denied(HttpStatus.UNAUTHORIZED, token == null ? "a bearer token is required" : "unknown token");
        }
        ctx.attribute(CALLER, caller);
        if (!caller.role().allows(needed)) {
            throw new Denied(
                    HttpStatus.FORBIDDEN,
                    "token " + caller.name() + " has role "
                            + caller.role().name().toLowerCase() + "; this needs "
                            + needed.name().toLowerCase());
        }
    }

    /**
     * The caller of a dashboard session (its cookie), or null. A cookie is sent by the browser on any request, also
     * one a hostile page makes it send, so a call that changes something must also carry the session's CSRF token.
     */
    private Tokens.Caller sessionCaller(Context ctx) {
        Optional<Sessions.Session> session = sessions.find(ctx.cookie(Sessions.COOKIE));
        if (session.isEmpty()) {
            return null;
        }
        boolean reads = ctx.method() == HandlerType.GET || ctx.method() == HandlerType.HEAD;
        if (!reads && !Sessions.csrfMatches(session.get(), ctx.header(Sessions.CSRF_HEADER))) {
            ctx.attribute(CALLER, session.get().caller());
            throw new Denied(
                    HttpStatus.FORBIDDEN,
                    "a dashboard session must send its CSRF token in " + Sessions.CSRF_HEADER + " to change anything");
        }
        return session.get().caller();
    }

    private static Tokens.Caller caller(Context ctx) {
        return ctx.attribute(CALLER);
    }

    private void audit(Context ctx, int status) {
        Tokens.Caller c = caller(ctx);
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("status", status);
        detail.put("remote", ctx.ip());
        if (ctx.queryString() != null && !ctx.queryString().isBlank()) {
            detail.put("query", ctx.queryString());
        }
        s.audit()
                .record(
                        c == null ? "anonymous" : "token:" + c.name(),
                        "api." + ctx.method().name(),
                        ctx.path(),
                        detail);
    }

    private static long intParam(Context ctx, String name, long dflt) {
        String v = ctx.queryParam(name);
        if (v == null || v.isBlank()) {
            return dflt;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("query parameter " + name + " must be a number, not '" + v + "'");
        }
    }

    private DrillReports.Stored drill(String id) {
        return s.drills()
                .get(id)
                .orElseThrow(
                        () -> new NotFound("no drill report " + id + " (a report is kept when a DR_DRILL job ends)"));
    }

    private String knownDatabase(Context ctx) {
        String db = ctx.pathParam("database");
        if (s.inventory().database(db).isEmpty()) {
            throw new NotFound("no database " + db + " in the controller's inventory");
        }
        return db;
    }

    private JobRecord job(String id) {
        return s.jobs().get(id).orElseThrow(() -> new NotFound("no job " + id));
    }

    private JsonNode body(Context ctx) {
        if (ctx.body().isBlank()) {
            return json.createObjectNode();
        }
        try {
            return json.readTree(ctx.body());
        } catch (Exception e) {
            throw new IllegalArgumentException("the body is not JSON: " + e.getMessage());
        }
    }

    private void submit(Context ctx) {
        JsonNode b = body(ctx);
        String database = b.path("database").asText(null);
        String type = b.path("type").asText(null);
        // a caller-chosen id makes retries safe: the same id never starts a second job
        String id = b.path("id").asText(null);
        if (id != null) {
            if (!id.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,127}")) {
                throw new IllegalArgumentException(
                        "id must start with a letter or digit and hold 1-128 letters, digits, '.', '_' or '-'");
            }
            Optional<JobRecord> existing = s.jobs().get(id);
            if (existing.isPresent()) {
                JobRecord e = existing.get();
                if (!e.database().equals(database)
                        || !e.type().equals(JobDispatcher.parseType(type).name())) {
                    throw new IllegalStateException(
                            "job " + id + " exists for " + e.type() + " of " + e.database() + "; use a new id");
                }
                ctx.status(HttpStatus.OK).json(e);
                return;
            }
        }
        if (database == null || type == null) {
            throw new IllegalArgumentException(
                    "give database and type, e.g. {\"database\": \"main\", \"type\": \"BACKUP_FULL\"}");
        }
        JobType t = JobDispatcher.parseType(type);
        Map<String, String> params = new HashMap<>();
        b.path("params")
                .properties()
                // a structured value (e.g. a drill's assertions) travels as its JSON text
                .forEach(e -> params.put(
                        e.getKey(),
                        e.getValue().isContainerNode()
                                ? e.getValue().toString()
                                : e.getValue().asText()));
        JobRecord j = s.dispatcher()
                .submit(id, database, t, params, "token:" + caller(ctx).name());
        ctx.status(HttpStatus.CREATED).json(j);
    }

    private void events(SseClient client) {
        Context ctx = client.ctx();
        audit(ctx, 200);
        long after;
        try {
            // a reconnecting browser sends Last-Event-ID; a page that rendered up to an event asks with ?after=
            after = Optional.ofNullable(ctx.header("Last-Event-ID"))
                    .or(() -> Optional.ofNullable(ctx.queryParam("after")))
                    .map(String::trim)
                    .map(Long::parseLong)
                    .orElse(0L);
        } catch (NumberFormatException e) {
            after = 0; // not one of ours: replay everything kept
        }
        LinkedBlockingQueue<ControllerEvent> queue = new LinkedBlockingQueue<>(10_000);
        try (AutoCloseable sub = s.events().subscribe(after, queue::offer)) {
            client.keepAlive();
            while (!client.terminated()) {
                ControllerEvent e = queue.poll(15, TimeUnit.SECONDS);
                if (e == null) {
                    client.sendComment("keep-alive");
                } else {
                    client.sendEvent(e.name(), json.writeValueAsString(e), Long.toString(e.id()));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            log.debug("event stream to {} ended: {}", ctx.ip(), e.toString());
        } finally {
            client.close();
        }
    }

    @Override
    public void close() {
        app.stop();
    }
}
