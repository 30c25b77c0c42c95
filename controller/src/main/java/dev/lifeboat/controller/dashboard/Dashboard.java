package dev.lifeboat.controller.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.controller.api.RestApi;
import dev.lifeboat.controller.api.Role;
import dev.lifeboat.controller.api.Tokens;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Cookie;
import io.javalin.http.HttpStatus;
import io.javalin.http.SameSite;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.Optional;

/**
 * The dashboard under /ui: server-rendered pages over the same services as the REST API, behind a login form that
 * trades a token for a session cookie. Pages only read; every button calls the REST API (with the session's CSRF
 * token), so the API's role checks are the only ones that decide what a caller may do.
 */
public final class Dashboard {
    /** One page: its {@code main} content inside {@link Html#page}, for a session whose role the route checked. */
    interface Page {
        String render(Context ctx, Sessions.Session session) throws Exception;
    }

    private static final Map<String, String> ASSET_TYPES =
            Map.of("app.js", "text/javascript; charset=utf-8", "style.css", "text/css; charset=utf-8");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final RestApi.Services s;
    private final Tokens tokens;
    private final Sessions sessions;
    private final boolean secure;

    public Dashboard(RestApi.Services services, Tokens tokens, Sessions sessions, boolean secure) {
        this.s = services;
        this.tokens = tokens;
        this.sessions = sessions;
        this.secure = secure;
    }

    public void routes(RoutesConfig r) {
        r.get("/", ctx -> ctx.redirect("/ui/overview"));
        r.get("/ui", ctx -> ctx.redirect("/ui/overview"));
        r.get("/ui/login", ctx -> html(ctx, LoginPage.render(ctx.queryParam("error"))));
        r.post("/ui/login", this::login);
        r.post("/ui/logout", this::logout);
        r.get("/ui/assets/{name}", this::asset);
        page(r, "/ui/overview", Role.VIEWER, new OverviewPage(s));
        page(r, "/ui/regions", Role.VIEWER, new RegionsPage(s));
        page(r, "/ui/databases/{database}", Role.VIEWER, new DatabasePage(s, JSON));
        page(r, "/ui/jobs", Role.VIEWER, new JobsPage(s, JSON));
        page(r, "/ui/alerts", Role.VIEWER, new AlertsPage(s, JSON));
        page(r, "/ui/audit", Role.ADMIN, new AuditPage(s));
    }

    private void page(RoutesConfig r, String path, Role needed, Page page) {
        r.get(path, ctx -> {
            Optional<Sessions.Session> session = sessions.find(ctx.cookie(Sessions.COOKIE));
            if (session.isEmpty()) {
                ctx.redirect("/ui/login");
                return;
            }
            ctx.header("Cache-Control", "no-store");
            if (!session.get().caller().role().allows(needed)) {
                ctx.status(HttpStatus.FORBIDDEN);
                html(
                        ctx,
                        Html.page(
                                "Not allowed",
                                "",
                                session.get(),
                                0,
                                "<h1>Not allowed</h1><p>This page needs the "
                                        + needed.name().toLowerCase()
                                        + " role; your token has "
                                        + session.get().caller().role().name().toLowerCase()
                                        + ".</p>"));
                return;
            }
            html(ctx, page.render(ctx, session.get()));
        });
    }

    private static void html(Context ctx, String body) {
        ctx.contentType("text/html; charset=utf-8")
                .header("X-Frame-Options", "DENY")
                .header("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
                .result(body);
    }

    private void login(Context ctx) {
        // a form posted from another site must not log the browser in under the attacker's token
        String origin = ctx.header("Origin");
        if (origin != null && !origin.equals("null") && !sameOrigin(ctx, origin)) {
            ctx.status(HttpStatus.FORBIDDEN).result("cross-site login refused");
            return;
        }
        Optional<Tokens.Caller> caller = tokens.authenticate(ctx.formParam("token"));
        if (caller.isEmpty()) {
            s.audit().record("anonymous", "ui.login.refused", "dashboard", Map.of("remote", ctx.ip()));
            ctx.redirect("/ui/login?error=unknown+token");
            return;
        }
        Sessions.Session session = sessions.open(caller.get());
        Cookie c = new Cookie(Sessions.COOKIE, session.id());
        c.setHttpOnly(true);
        c.setSecure(secure);
        c.setSameSite(SameSite.STRICT);
        c.setPath("/");
        c.setMaxAge((int) Sessions.LIFETIME.toSeconds());
        ctx.cookie(c);
        s.audit().record("token:" + caller.get().name(), "ui.login", "dashboard", Map.of("remote", ctx.ip()));
        ctx.redirect("/ui/overview");
    }

    private void logout(Context ctx) {
        Optional<Sessions.Session> session = sessions.find(ctx.cookie(Sessions.COOKIE));
        if (session.isPresent() && Sessions.csrfMatches(session.get(), ctx.formParam("csrf"))) {
            sessions.close(session.get().id());
            s.audit().record("token:" + session.get().caller().name(), "ui.logout", "dashboard", Map.of());
        }
        ctx.removeCookie(Sessions.COOKIE, "/");
        ctx.redirect("/ui/login");
    }

    private static boolean sameOrigin(Context ctx, String origin) {
        String host = ctx.header("Host");
        return host != null && (origin.equals("http://" + host) || origin.equals("https://" + host));
    }

    private void asset(Context ctx) throws IOException {
        String name = ctx.pathParam("name");
        String type = ASSET_TYPES.get(name);
        if (type == null) {
            ctx.status(HttpStatus.NOT_FOUND).result("no asset " + name);
            return;
        }
        try (InputStream in = Dashboard.class.getResourceAsStream("/dashboard/" + name)) {
            ctx.contentType(type).header("Cache-Control", "no-cache").result(in.readAllBytes());
        }
    }
}
