package dev.lifeboat.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The dashboard in a real headless Chromium (Debian's, through its chromedriver) against `lifeboat sandbox`: a real
 * controller, agent and PostgreSQL 15 under write load. Every page renders and shows the API's numbers; a viewer gets
 * no buttons and a forged call is refused by the API; an operator's backup moves its progress bar from the event
 * stream; stopping WAL streaming turns the database's row red at the next refresh; the alert is acknowledged from
 * its page.
 * Screenshots of each page go to {@code target/dashboard-screenshots} (or {@code -Ddashboard.screenshots=DIR}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DashboardBrowserTest {
    private static final String DB = "orders";
    private static final ObjectMapper JSON = new ObjectMapper();
    private SandboxProcess sandbox;
    private ChromeDriver browser;
    private Path shots;

    @BeforeAll
    void start() throws Exception {
        // scale 100 (~1.5 GB): the copy phase of a full backup (progress counts bytes read, one event per second)
        // lasts several seconds even on a fast, idle machine
        // dr is replicated continuously and counts for the RPO, so the Regions page has a replica to show
        sandbox =
                SandboxProcess.start(DB, Integer.getInteger("dashboard.scale", 100), "20s", Map.of(), "--replicate-dr");
        System.setProperty("webdriver.chrome.driver", System.getProperty("chromedriver", "/usr/bin/chromedriver"));
        ChromeOptions o = new ChromeOptions();
        o.setBinary(System.getProperty("chromium", "/usr/bin/chromium"));
        o.addArguments(
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--window-size=1440,900");
        browser = new ChromeDriver(o);
        shots = Files.createDirectories(
                Path.of(System.getProperty("dashboard.screenshots", "target/dashboard-screenshots")));
    }

    @AfterAll
    void stop() throws Exception {
        if (browser != null) {
            browser.quit();
        }
        if (sandbox != null) {
            sandbox.close();
        }
    }

    @Test
    @Order(1)
    void aViewerSeesTheApisNumbersOnEveryPageAndNoButtons() throws Exception {
        login("viewer");
        JsonNode status = sandbox.get("api/v1/status", "viewer");
        assertThat(text("[data-count=databases]")).isEqualTo(Integer.toString(status.size()));
        JsonNode st = status.get(0);
        WebElement row = browser.findElement(By.cssSelector("tr[data-database=" + DB + "]"));
        assertThat(cell(row, "tier").getText()).isEqualTo(st.path("tier").asText());
        assertThat(cell(row, "region").getText()).isEqualTo(st.path("region").asText());
        assertThat(cell(row, "rpo").getAttribute("data-target"))
                .isEqualTo(st.path("rpoTargetSeconds").asText());
        assertThat(cell(row, "rto").getAttribute("data-target"))
                .isEqualTo(st.path("rtoTargetSeconds").asText());
        assertThat(cell(row, "last-backup").getAttribute("data-value"))
                .isEqualTo(st.path("lastBackupId").asText(""));
        // the RPO moves every second: the page's and the API's readings are seconds apart at most
        assertThat(Double.parseDouble(cell(row, "rpo").getAttribute("data-value")))
                .isCloseTo(st.path("rpoSeconds").asDouble(), Offset.offset(10.0));
        assertThat(row.getAttribute("data-state")).isEqualTo(expectedState(st));
        shot("overview");

        browser.get(sandbox.url() + "/ui/regions");
        st = sandbox.get("api/v1/status/" + DB, "viewer");
        assertThat(st.path("regions")).hasSize(2);
        for (JsonNode r : st.path("regions")) {
            String region = r.path("region").asText();
            WebElement summary =
                    browser.findElement(By.cssSelector("table.region-summary tr[data-region=" + region + "]"));
            assertThat(cell(summary, "databases").getText()).isEqualTo("1");
            WebElement dbRow = browser.findElement(
                    By.cssSelector("section[data-region=" + region + "] tr[data-database=" + DB + "]"));
            assertThat(Double.parseDouble(cell(dbRow, "rpo").getAttribute("data-value")))
                    .as("RPO in %s", region)
                    .isCloseTo(r.path("rpoSeconds").asDouble(), Offset.offset(10.0));
            // the lag is WAL bytes, moving with every write: both readings are numbers, a few writes apart
            assertThat(cell(dbRow, "lag").getAttribute("data-value"))
                    .as("lag in %s", region)
                    .matches("\\d+");
            assertThat(r.path("lagBytes").isNumber())
                    .as("API lag in %s", region)
                    .isTrue();
            assertThat(Long.parseLong(cell(dbRow, "lag").getAttribute("data-value")))
                    .isCloseTo(r.path("lagBytes").asLong(), Offset.offset(64L << 20));
        }
        assertThat(browser.findElements(By.cssSelector("svg[data-chart=rpo-dr] path.series")))
                .hasSize(1);

        for (String page : List.of("/ui/overview", "/ui/regions", "/ui/databases/" + DB, "/ui/jobs", "/ui/alerts")) {
            browser.get(sandbox.url() + page);
            assertThat(browser.findElements(By.cssSelector("main#content")))
                    .as(page)
                    .hasSize(1);
            assertThat(browser.findElements(By.cssSelector("button.action")))
                    .as(page)
                    .isEmpty();
        }
        assertThat(browser.findElements(By.linkText("Audit log"))).isEmpty();
        browser.get(sandbox.url() + "/ui/audit");
        assertThat(text("main h1")).isEqualTo("Not allowed");

        // a viewer who forges the operator's call gets the API's refusal, with and without the session's CSRF token
        browser.get(sandbox.url() + "/ui/jobs");
        long fullBackups = countJobs("BACKUP_FULL");
        String body = "{\"database\":\"" + DB + "\",\"type\":\"BACKUP_FULL\"}";
        assertThat(fetch("/api/v1/jobs", body, true)).startsWith("403 ").contains("needs operator");
        assertThat(fetch("/api/v1/jobs", body, false)).startsWith("403 ").contains("CSRF");
        assertThat(countJobs("BACKUP_FULL")).isEqualTo(fullBackups);
    }

    @Test
    @Order(2)
    void anOperatorsBackupMovesItsProgressBar() throws Exception {
        login("operator");
        browser.get(sandbox.url() + "/ui/databases/" + DB);
        js("window.samples = []; setInterval(() => { for (const b of document.querySelectorAll("
                + "'table.jobs progress')) window.samples.push([b.dataset.job, b.value, b.max]); }, 100);");
        button("Back up now (full)").click();
        waitFor(Duration.ofSeconds(30), () -> text("#notice").contains("job "));
        String notice = text("#notice");
        String job = notice.replaceAll(".*job (\\S+).*", "$1");
        JsonNode ended = waitForJob(job, Duration.ofMinutes(10));
        assertThat(ended.path("state").asText()).isEqualTo("COMPLETED");
        // the bar moved while the job ran: part-way (from a progress event), then full
        TreeSet<Double> between = new TreeSet<>();
        for (Object o : (List<?>) js("return window.samples;")) {
            List<?> sample = (List<?>) o;
            double value = ((Number) sample.get(1)).doubleValue();
            double max = ((Number) sample.get(2)).doubleValue();
            if (job.equals(sample.get(0)) && value > 0 && value < max) {
                between.add(value);
            }
        }
        assertThat(between)
                .as("values the bar of %s showed before its end", job)
                .isNotEmpty();
        waitFor(Duration.ofSeconds(30), () -> {
            Object v = js("const b = document.querySelector('progress[data-job=\"" + job + "\"]');"
                    + " return b ? b.value === b.max : false;");
            return Boolean.TRUE.equals(v);
        });
        // once ended, the page (refreshed) and the API agree on the newest backup
        browser.get(sandbox.url() + "/ui/overview");
        JsonNode st = sandbox.get("api/v1/status/" + DB, "viewer");
        assertThat(cell(browser.findElement(By.cssSelector("tr[data-database=" + DB + "]")), "last-backup")
                        .getAttribute("data-value"))
                .isEqualTo(st.path("lastBackupId").asText());
        browser.get(sandbox.url() + "/ui/jobs");
        WebElement jobRow = browser.findElement(By.cssSelector("tr[data-job='" + job + "']"));
        assertThat(jobRow.getAttribute("data-state")).isEqualTo("completed");
        shot("jobs");
        browser.get(sandbox.url() + "/ui/databases/" + DB);
        shot("database");
    }

    @Test
    @Order(4)
    void anRpoBreachTurnsItsRowRedAtTheNextRefreshAndIsAcknowledged() throws Exception {
        login("operator");
        browser.get(sandbox.url() + "/ui/overview");
        // the full backup before may have held WAL back for a while: start from a database within its RPO
        waitFor(
                Duration.ofMinutes(3),
                () -> !browser.findElement(By.cssSelector("tr[data-database=" + DB + "]"))
                        .getAttribute("data-state")
                        .equals("breach"));
        sandbox.post("api/v1/jobs/" + sandbox.walStream() + "/cancel", "operator", "{\"reason\":\"test: stop WAL\"}");
        waitFor(Duration.ofMinutes(3), () -> {
            JsonNode st = sandbox.get("api/v1/status/" + DB, "viewer");
            return st.path("rpoSeconds").isNumber() && !st.path("rpoMet").asBoolean();
        });
        // the page refreshes itself every 5 s: the first refresh that starts after the API says so shows it (one
        // more is allowed for a refresh whose request was already answered when the API changed)
        for (int refreshes = 0; ; refreshes++) {
            String before = refreshedAt();
            waitFor(Duration.ofSeconds(30), () -> !refreshedAt().equals(before));
            String state = browser.findElement(By.cssSelector("tr[data-database=" + DB + "]"))
                    .getAttribute("data-state");
            if (state.equals("breach")) {
                break;
            }
            assertThat(refreshes).as("refreshes that still showed %s", state).isLessThan(1);
        }
        assertThat(text("[data-count=breach]")).isEqualTo("1");
        shot("overview-breach");

        waitFor(Duration.ofMinutes(1), () -> openAlert("rpo-breach") != null);
        browser.get(sandbox.url() + "/ui/alerts");
        JsonNode alert = openAlert("rpo-breach");
        WebElement row = browser.findElement(
                By.cssSelector("tr[data-alert='" + alert.path("id").asText() + "']"));
        assertThat(row.getText()).contains(alert.path("summary").asText().substring(0, 20));
        shot("alerts");
        row.findElement(By.cssSelector("button.action")).click();
        waitFor(
                Duration.ofSeconds(30),
                () -> openAlert("rpo-breach").path("acknowledgedBy").asText().equals("sandbox-operator"));
        waitFor(
                Duration.ofSeconds(30),
                () -> browser.findElement(By.cssSelector(
                                "tr[data-alert='" + alert.path("id").asText() + "'] td.ack"))
                        .getText()
                        .startsWith("by sandbox-operator"));
    }

    @Test
    @Order(5)
    void anAdminSeesTheAuditChainVerified() throws Exception {
        login("admin");
        browser.get(sandbox.url() + "/ui/audit");
        JsonNode verify = sandbox.get("api/v1/audit/verify", "admin");
        WebElement p = browser.findElement(By.cssSelector("p.verify"));
        assertThat(p.getAttribute("data-verified")).isEqualTo(verify.path("ok").asText());
        assertThat(verify.path("ok").asBoolean()).isTrue();
        // the dashboard's own log-ins and the acknowledgement are in the chain
        assertThat(browser.findElement(By.cssSelector("table.audit")).getText())
                .contains("ui.login")
                .contains("alert.acknowledged");
        shot("audit");
    }

    @Test
    @Order(6)
    void aPausedRegionShowsOnTheRegionsPageAndADrillsPhasesAreDrawn() throws Exception {
        login("operator");
        browser.get(sandbox.url() + "/ui/databases/" + DB);
        WebElement dr = browser.findElement(By.cssSelector("table.regions tr[data-region=dr]"));
        dr.findElements(By.cssSelector("button.action")).stream()
                .filter(b -> b.getText().equals("Pause"))
                .findFirst()
                .orElseThrow()
                .click();
        waitFor(Duration.ofSeconds(30), () -> text("#notice").contains("job "));
        String pause = text("#notice").replaceAll(".*job (\\S+).*", "$1");
        assertThat(waitForJob(pause, Duration.ofMinutes(1)).path("state").asText())
                .isEqualTo("COMPLETED");
        browser.get(sandbox.url() + "/ui/regions");
        waitFor(Duration.ofSeconds(30), () -> {
            browser.navigate().refresh();
            return browser.findElement(By.cssSelector("section[data-region=dr] tr[data-database=" + DB + "]"))
                    .getAttribute("data-state")
                    .equals("paused");
        });
        assertThat(cell(browser.findElement(By.cssSelector("table.region-summary tr[data-region=dr]")), "paused")
                        .getText())
                .isEqualTo("1");
        // the charts have history by now (one point per 5 s step since the sandbox started)
        assertThat(Integer.parseInt(browser.findElement(By.cssSelector("svg[data-chart=rpo-dr]"))
                        .getAttribute("data-points")))
                .isGreaterThan(2);
        shot("regions");

        // a drill's phases: the bars carry the report's own numbers
        browser.get(sandbox.url() + "/ui/databases/" + DB);
        button("Drill now").click();
        waitFor(Duration.ofSeconds(30), () -> text("#notice").contains("job "));
        String drill = text("#notice").replaceAll(".*job (\\S+).*", "$1");
        waitForJob(drill, Duration.ofMinutes(15));
        // the controller keeps the report just after the job ends
        waitFor(Duration.ofSeconds(30), () -> sandbox.get("api/v1/drills/" + drill, "viewer") != null);
        JsonNode report = sandbox.get("api/v1/drills/" + drill, "viewer");
        JsonNode rto = report.path("report").path("result").path("rto");
        assertThat(rto.path("seconds").isNumber()).as("drill report %s", report).isTrue();
        browser.get(sandbox.url() + "/ui/databases/" + DB);
        WebElement bar = browser.findElement(By.cssSelector("svg[data-chart=drill-phases] g[data-bar]"));
        for (String[] part : new String[][] {
            {"fetch", "fetch_seconds"}, {"WAL replay", "wal_replay_seconds"}, {"validation", "validation_seconds"}
        }) {
            assertThat(Double.parseDouble(bar.findElement(By.cssSelector("rect[data-part='" + part[0] + "']"))
                            .getAttribute("data-value")))
                    .as(part[0])
                    .isCloseTo(rto.path(part[1]).asDouble(), Offset.offset(0.001));
        }
        WebElement row = browser.findElement(By.cssSelector("table.drills tr[data-drill='" + drill + "']"));
        assertThat(Double.parseDouble(cell(row, "rto").getAttribute("data-value")))
                .isCloseTo(rto.path("seconds").asDouble(), Offset.offset(0.001));
        assertThat(browser.findElements(By.cssSelector("svg[data-chart=rpo-history] path.series")))
                .hasSize(2);
        js("document.querySelector('svg[data-chart=drill-phases]').scrollIntoView({block: 'center'});");
        shot("database-drill");
    }

    @Test
    @Order(3)
    void aViewerSeesWhatCanBeRecoveredAndPlansARestoreToATime() throws Exception {
        // the controller reads the catalog again after every backup: an incremental joins the full one
        String afterFull = catalogJob();
        String incremental = sandbox.post(
                        "api/v1/jobs", "operator", "{\"database\":\"" + DB + "\",\"type\":\"BACKUP_INCREMENTAL\"}")
                .path("id")
                .asText();
        assertThat(waitForJob(incremental, Duration.ofMinutes(10)).path("state").asText())
                .isEqualTo("COMPLETED");
        waitFor(Duration.ofMinutes(2), () -> !catalogJob().equals(afterFull));
        // WAL streams on: by the next read the archive reaches well past the incremental (a window to plan inside)
        Thread.sleep(8000);
        login("viewer");
        browser.get(sandbox.url() + "/ui/databases/" + DB);
        // reading it again is open to viewers (it only reads)
        WebElement readNow = browser.findElement(By.cssSelector("button.catalog"));
        String before = catalogJob();
        readNow.click();
        waitFor(Duration.ofMinutes(2), () -> !catalogJob().equals(before));
        JsonNode catalog =
                sandbox.get("api/v1/databases/" + DB + "/catalog", "viewer").path("catalog");
        waitFor(Duration.ofSeconds(30), () -> {
            browser.navigate().refresh();
            return browser.findElements(By.cssSelector("svg[data-chart=recovery-timeline]"))
                            .size()
                    == 1;
        });
        assertThat(browser.findElements(By.cssSelector("button.action"))).isEmpty();
        // every backup of the repository is a mark, every timeline's window the API's
        assertThat(catalog.path("backups").size()).isGreaterThanOrEqualTo(2);
        assertThat(browser.findElements(By.cssSelector("line.backup.partial"))).isNotEmpty();
        for (JsonNode bk : catalog.path("backups")) {
            assertThat(browser.findElements(
                            By.cssSelector("line[data-backup='" + bk.path("id").asText() + "']")))
                    .as("mark of backup %s", bk.path("id").asText())
                    .hasSize(1);
        }
        JsonNode window = null;
        for (JsonNode w : catalog.path("timelines")) {
            if (w.hasNonNull("earliest") && w.path("source").asBoolean()) {
                window = w;
            }
        }
        assertThat(window).as("a recoverable window in %s", catalog).isNotNull();
        WebElement cover = browser.findElement(
                By.cssSelector("g[data-timeline='" + window.path("timeline").asInt() + "'] rect.cover"));
        Instant earliest = instant(window.path("earliest"));
        Instant latest = instant(window.path("latest"));
        assertThat(Instant.parse(cover.getAttribute("data-earliest"))).isEqualTo(earliest);
        assertThat(Instant.parse(cover.getAttribute("data-latest"))).isEqualTo(latest);
        assertThat(catalog.path("gaps")).isEmpty();
        assertThat(browser.findElements(By.cssSelector("rect.gap"))).isEmpty();

        // "restore to…" a time inside the window: the agent's plan starts from the newest backup ended before it
        // between the newest backup's end and the archive's newest commit, in whole seconds (the form's step)
        Instant newestStop = earliest;
        for (JsonNode bk : catalog.path("backups")) {
            newestStop = instant(bk.path("stopTime")).isAfter(newestStop) ? instant(bk.path("stopTime")) : newestStop;
        }
        Instant target = newestStop
                .plus(Duration.between(newestStop, latest).dividedBy(2))
                .truncatedTo(ChronoUnit.SECONDS)
                .plusSeconds(1);
        assertThat(target)
                .as("a whole second inside %s .. %s", newestStop, latest)
                .isBefore(latest);
        String expected = null;
        for (JsonNode bk : catalog.path("backups")) {
            if (!instant(bk.path("stopTime")).isAfter(target)) {
                expected = bk.path("id").asText();
            }
        }
        js("document.querySelector('form.planner input[name=target_time]').value = '"
                + target.toString().replace("Z", "") + "';");
        browser.findElement(By.cssSelector("form.planner button[value=time]")).click();
        waitFor(
                Duration.ofMinutes(2),
                () -> !browser.findElements(By.cssSelector("#plan-result.done, #plan-result.failed"))
                        .isEmpty());
        WebElement plan = browser.findElement(By.id("plan-result"));
        assertThat(plan.getAttribute("class")).as(plan.getText()).contains("done");
        assertThat(plan.getAttribute("data-backup")).isEqualTo(expected);
        JsonNode job = sandbox.get("api/v1/jobs/" + plan.getAttribute("data-job"), "viewer");
        assertThat(job.path("type").asText()).isEqualTo("CATALOG");
        assertThat(job.path("requestedBy").asText()).isEqualTo("token:sandbox-viewer");
        JsonNode planned = JSON.readTree(job.path("resultJson").asText()).path("plan");
        assertThat(plan.getAttribute("data-wal-segments"))
                .isEqualTo(planned.path("walSegments").asText());
        assertThat(plan.getText())
                .contains(planned.path("firstSegment").asText())
                .contains(planned.path("stopLsn").asText());
        // the page refreshes itself: the plan stays
        String refreshed = refreshedAt();
        waitFor(Duration.ofSeconds(30), () -> !refreshedAt().equals(refreshed));
        assertThat(browser.findElement(By.id("plan-result")).getText()).contains(expected);
        js("document.getElementById('plan-result').scrollIntoView({block: 'center'});");
        shot("database-recovery");

        // a time before the first backup: the agent says why no plan exists
        js("document.querySelector('form.planner input[name=target_time]').value = '"
                + earliest.minusSeconds(3600)
                        .truncatedTo(ChronoUnit.SECONDS)
                        .toString()
                        .replace("Z", "")
                + "';");
        browser.findElement(By.cssSelector("form.planner button[value=time]")).click();
        waitFor(
                Duration.ofMinutes(2),
                () -> browser.findElement(By.id("plan-result"))
                        .getAttribute("class")
                        .contains("failed"));
        assertThat(browser.findElement(By.id("plan-result")).getText()).contains("before the earliest point");
    }

    /** The CATALOG job whose catalog the controller shows now ("" before the first). */
    private String catalogJob() {
        try {
            return sandbox.get("api/v1/databases/" + DB + "/catalog", "viewer")
                    .path("job")
                    .asText();
        } catch (Exception e) {
            return "";
        }
    }

    private static Instant instant(JsonNode n) {
        return n.isNumber() ? Instant.ofEpochMilli(Math.round(n.asDouble() * 1000)) : Instant.parse(n.asText());
    }

    private void login(String role) throws Exception {
        browser.get(sandbox.url() + "/ui/login");
        browser.manage().deleteAllCookies();
        browser.get(sandbox.url() + "/ui/overview");
        assertThat(browser.getCurrentUrl()).endsWith("/ui/login");
        browser.findElement(By.id("token")).sendKeys(sandbox.token(role));
        browser.findElement(By.cssSelector("form button[type=submit]")).click();
        waitFor(Duration.ofSeconds(20), () -> browser.getCurrentUrl().endsWith("/ui/overview"));
        assertThat(text(".who")).contains("(" + role + ")");
    }

    private String expectedState(JsonNode st) {
        boolean rpoMissed =
                st.path("rpoSeconds").isNumber() && !st.path("rpoMet").asBoolean();
        boolean rtoMissed =
                st.path("rto").path("seconds").isNumber() && !st.path("rtoMet").asBoolean();
        if (rpoMissed || rtoMissed || !st.path("agentState").asText().equals("connected")) {
            return "breach";
        }
        return st.path("compliant").asBoolean() ? "ok" : "unknown";
    }

    private JsonNode openAlert(String kind) throws Exception {
        for (JsonNode a : sandbox.get("api/v1/alerts", "viewer")) {
            if (a.path("kind").asText().equals(kind)
                    && DB.equals(a.path("database").asText())) {
                return a;
            }
        }
        return null;
    }

    private long countJobs(String type) throws Exception {
        return sandbox.list(sandbox.get("api/v1/jobs?database=" + DB + "&limit=1000", "viewer")).stream()
                .filter(j -> j.path("type").asText().equals(type))
                .count();
    }

    private JsonNode waitForJob(String id, Duration limit) throws Exception {
        JsonNode[] last = new JsonNode[1];
        waitFor(limit, () -> {
            last[0] = sandbox.get("api/v1/jobs/" + id, "viewer");
            return List.of("COMPLETED", "FAILED", "CANCELLED")
                    .contains(last[0].path("state").asText());
        });
        return last[0];
    }

    private String fetch(String path, String body, boolean withCsrf) {
        Object r = ((JavascriptExecutor) browser)
                .executeAsyncScript(
                        "const done = arguments[arguments.length - 1];"
                                + "const headers = {'Content-Type': 'application/json'};"
                                + "if (arguments[2]) headers['X-CSRF-Token'] ="
                                + " document.querySelector('meta[name=csrf-token]').content;"
                                + "fetch(arguments[0], {method: 'POST', credentials: 'same-origin', headers, body:"
                                + " arguments[1]}).then(r => r.text().then(t => done(r.status + ' ' + t)));",
                        path,
                        body,
                        withCsrf);
        return String.valueOf(r);
    }

    private String refreshedAt() {
        return String.valueOf(js("return document.getElementById('content').dataset.refreshedAt || '';"));
    }

    private Object js(String script) {
        return ((JavascriptExecutor) browser).executeScript(script);
    }

    private WebElement button(String label) {
        return browser.findElements(By.cssSelector("button.action")).stream()
                .filter(b -> b.getText().equals(label))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no button '" + label + "' on " + browser.getCurrentUrl()));
    }

    private static WebElement cell(WebElement row, String field) {
        return row.findElement(By.cssSelector("td[data-field=" + field + "]"));
    }

    private String text(String css) {
        return browser.findElement(By.cssSelector(css)).getText();
    }

    private void shot(String name) throws Exception {
        Files.write(shots.resolve(name.toLowerCase(Locale.ROOT) + ".png"), browser.getScreenshotAs(OutputType.BYTES));
    }

    private static void waitFor(Duration limit, Callable<Boolean> condition) throws Exception {
        Instant deadline = Instant.now().plus(limit);
        Exception last = null;
        while (Instant.now().isBefore(deadline)) {
            try {
                if (Boolean.TRUE.equals(condition.call())) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("not true within " + limit + (last == null ? "" : ": " + last), last);
    }
}
