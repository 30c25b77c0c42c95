package dev.lifeboat.controller.dashboard;

/** The only page without a session: a token goes in, a session cookie comes out. */
final class LoginPage {
    private LoginPage() {}

    static String render(String error) {
        return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Log in · Lifeboat</title>"
                + "<link rel=\"stylesheet\" href=\"/ui/assets/style.css\"></head><body class=\"login\"><main>"
                + "<h1>Lifeboat</h1><form method=\"post\" action=\"/ui/login\">"
                + "<label for=\"token\">API token</label>"
                + "<input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required>"
                + "<button type=\"submit\">Log in</button>"
                + (error == null ? "" : "<p class=\"error\">" + Html.esc(error) + "</p>")
                + "<p class=\"hint\">A token from the controller's <code>tokens:</code> list. Viewers see;"
                + " operators also back up, drill, pause regions and acknowledge alerts.</p>"
                + "</form></main></body></html>\n";
    }
}
