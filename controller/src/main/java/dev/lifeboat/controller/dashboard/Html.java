package dev.lifeboat.controller.dashboard;

import dev.lifeboat.controller.api.Role;
import io.javalin.http.Context;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/** Escaping, number formats and the page frame shared by every dashboard page. */
final class Html {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);

    private Html() {}

    static String esc(Object o) {
        if (o == null) {
            return "";
        }
        String s = o.toString();
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    /** A query parameter, null when absent or blank (a filter form sends empty fields). */
    static String param(Context ctx, String name) {
        String v = ctx.queryParam(name);
        return v == null || v.isBlank() ? null : v;
    }

    static String time(Instant t) {
        return t == null ? "never" : TIME.format(t);
    }

    /** "42 s", "3.5 min", "2.0 h", "1.5 d": how long, as someone on call reads it. */
    static String seconds(Double s) {
        if (s == null) {
            return "—";
        }
        double v = s;
        if (v < 120) {
            return String.format(Locale.ROOT, "%.0f s", v);
        }
        if (v < 7200) {
            return String.format(Locale.ROOT, "%.1f min", v / 60);
        }
        if (v < 172800) {
            return String.format(Locale.ROOT, "%.1f h", v / 3600);
        }
        return String.format(Locale.ROOT, "%.1f d", v / 86400);
    }

    static String age(Instant t, Instant now) {
        return t == null ? "never" : seconds((double) Duration.between(t, now).toSeconds()) + " ago";
    }

    static String bytes(Long b) {
        if (b == null) {
            return "—";
        }
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = b;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? b + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    /** A raw number for data attributes (what the browser tests compare with the API), empty for none. */
    static String raw(Double d) {
        return d == null ? "" : String.format(Locale.ROOT, "%.3f", d);
    }

    /**
     * The frame: navigation, the session's CSRF token and role for app.js, and {@code main}, which app.js re-fetches
     * every {@code refreshSeconds} (0: never) and swaps in place.
     */
    static String page(String title, String nav, Sessions.Session session, int refreshSeconds, String main) {
        Role role = session.caller().role();
        StringBuilder b = new StringBuilder(main.length() + 2048);
        b.append("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .append("<meta name=\"csrf-token\" content=\"")
                .append(esc(session.csrf()))
                .append("\"><title>")
                .append(esc(title))
                .append(" · Lifeboat</title><link rel=\"stylesheet\" href=\"/ui/assets/style.css\">")
                .append("<script src=\"/ui/assets/app.js\" defer></script></head>\n<body data-role=\"")
                .append(role.name().toLowerCase(Locale.ROOT))
                .append("\"><header><a class=\"brand\" href=\"/ui/overview\">Lifeboat</a><nav>");
        for (String[] item : new String[][] {
            {"overview", "Overview"},
            {"regions", "Regions"},
            {"jobs", "Jobs"},
            {"alerts", "Alerts"},
            {"audit", "Audit log"}
        }) {
            if (item[0].equals("audit") && !role.allows(Role.ADMIN)) {
                continue;
            }
            b.append("<a href=\"/ui/")
                    .append(item[0])
                    .append("\"")
                    .append(item[0].equals(nav) ? " class=\"active\"" : "")
                    .append(">")
                    .append(item[1])
                    .append("</a>");
        }
        b.append("</nav><form class=\"logout\" method=\"post\" action=\"/ui/logout\">")
                .append("<input type=\"hidden\" name=\"csrf\" value=\"")
                .append(esc(session.csrf()))
                .append("\"><span class=\"who\">")
                .append(esc(session.caller().name()))
                .append(" (")
                .append(role.name().toLowerCase(Locale.ROOT))
                .append(")</span> <button type=\"submit\">Log out</button></form></header>\n")
                .append("<div id=\"notice\" role=\"status\"></div>\n<main id=\"content\" data-refresh=\"")
                .append(refreshSeconds)
                .append("\">")
                .append(main)
                .append("</main></body></html>\n");
        return b.toString();
    }

    /** An action button for app.js: POSTs {@code body} (JSON) to {@code url} with the CSRF token. */
    static String action(String label, String url, String body, String confirm) {
        return "<button type=\"button\" class=\"action\" data-post=\"" + esc(url) + "\" data-body=\"" + esc(body)
                + "\"" + (confirm == null ? "" : " data-confirm=\"" + esc(confirm) + "\"") + ">" + esc(label)
                + "</button>";
    }
}
