package dev.lifeboat.controller.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.controller.api.RestApi;
import io.javalin.http.Context;
import java.time.Instant;

/** The newest jobs, live: progress bars follow the event stream, the table refreshes when a job ends. */
final class JobsPage implements Dashboard.Page {
    private final RestApi.Services s;
    private final ObjectMapper json;

    JobsPage(RestApi.Services s, ObjectMapper json) {
        this.s = s;
        this.json = json;
    }

    @Override
    public String render(Context ctx, Sessions.Session session) throws Exception {
        String main = "<h1>Jobs</h1><div class=\"live\" data-events-after=\""
                + s.events().latestId() + "\"></div>"
                + JobTable.render(
                        s.jobs().list(Html.param(ctx, "database"), Html.param(ctx, "state"), null, 100),
                        session,
                        json,
                        Instant.now());
        return Html.page("Jobs", "jobs", session, 15, main);
    }
}
