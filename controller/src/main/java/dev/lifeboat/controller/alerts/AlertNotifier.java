package dev.lifeboat.controller.alerts;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.lifeboat.common.Backoff;
import dev.lifeboat.controller.alerts.WebhookPayloads.Event;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers alerts to webhooks through a durable outbox (table {@code alert_deliveries}, migration V3).
 * {@link #raised} and {@link #resolved} only write one row per matching target and return; a background virtual thread
 * posts the rows, retrying with exponential backoff and jitter (a 429's or 503's {@code Retry-After} wins), and gives
 * up, with an error in the log, once a delivery is older than {@link Options#maxAge}. Pending rows are sent by
 * whichever
 * notifier runs on the database next, so deliveries survive a restart; several controllers on one PostgreSQL database
 * share the work through a lease on each row.
 * <p>
 * For one alert and target the events go out in order: a "resolved" waits until its "raised" was delivered or given
 * up, or PagerDuty would open an incident after it was closed.
 */
public final class AlertNotifier implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AlertNotifier.class);

    public static final String PENDING = "pending";
    public static final String DELIVERED = "delivered";
    /** The receiver refused the request (a 4xx other than 408, 425, 429, or a redirect): retrying would not help. */
    public static final String REJECTED = "rejected";
    /** Still failing when {@link Options#maxAge} ran out. */
    public static final String EXPIRED = "expired";
    /** Its target is no longer configured. */
    public static final String DROPPED = "dropped";

    private static final int BATCH = 32;
    private static final int ERROR_MAX = 1000;
    private static final String DUE_FILTER = " d.state = 'pending' AND (d.claimed_until IS NULL OR d.claimed_until < ?)"
            + " AND NOT EXISTS (SELECT 1 FROM alert_deliveries e WHERE e.state = 'pending' AND e.target = d.target"
            + " AND e.alert_id = d.alert_id AND e.id < d.id)";
    private static final String DELIVERY_COLUMNS =
            "id, target, alert_id, event, state, attempts, last_status, last_error,"
                    + " created_at, next_attempt_at, finished_at";

    /**
     * @param initialBackoff delay after the first failure; doubles per attempt (with jitter: half to all of it)
     * @param maxBackoff     the longest delay between attempts (unless the receiver's Retry-After asks for more)
     * @param maxAge         how long after it was queued a delivery is still tried
     * @param requestTimeout one request's time limit
     * @param pollInterval   how often the outbox is looked at without a local event (rows queued by other controllers,
     *                       leases of a controller that died)
     * @param keepFinished   how long delivered and given-up rows stay for the API before they are deleted
     */
    public record Options(
            Duration initialBackoff,
            Duration maxBackoff,
            Duration maxAge,
            Duration requestTimeout,
            Duration pollInterval,
            Duration keepFinished) {
        public Options {
            for (Duration d :
                    new Duration[] {initialBackoff, maxBackoff, maxAge, requestTimeout, pollInterval, keepFinished}) {
                if (d == null || d.isNegative() || d.isZero()) {
                    throw new IllegalArgumentException("alert notifier durations must be positive: " + d);
                }
            }
            if (maxBackoff.compareTo(initialBackoff) < 0) {
                throw new IllegalArgumentException("alert notifier: the longest backoff (" + maxBackoff
                        + ") is shorter than the first (" + initialBackoff + ")");
            }
        }

        public static Options defaults() {
            return new Options(
                    Duration.ofSeconds(2),
                    Duration.ofMinutes(5),
                    Duration.ofHours(24),
                    Duration.ofSeconds(10),
                    Duration.ofSeconds(5),
                    Duration.ofDays(30));
        }
    }

    /** One row of the outbox, for the API. */
    public record Delivery(
            long id,
            String target,
            String alertId,
            String event,
            String state,
            int attempts,
            Integer lastStatus,
            String lastError,
            Instant createdAt,
            Instant nextAttemptAt,
            Instant finishedAt) {}

    private record Row(
            long id, String target, String alertId, Event event, String alertJson, int attempts, Instant createdAt) {}

    private final DataSource ds;
    private final Map<String, WebhookTarget> targets = new LinkedHashMap<>();
    private final HttpClient http;
    private final Options options;
    private final Clock clock = Clock.systemUTC();
    private final String instanceId = UUID.randomUUID().toString();
    private final Semaphore wake = new Semaphore(0);
    private final CompletableFuture<Void> closing = new CompletableFuture<>();
    private final Thread worker;
    private volatile boolean closed;

    public AlertNotifier(DataSource ds, List<WebhookTarget> targets, HttpClient http) {
        this(ds, targets, http, Options.defaults());
    }

    /** Starts the delivery worker at once: rows left pending by an earlier notifier go out now. */
    public AlertNotifier(DataSource ds, List<WebhookTarget> targets, HttpClient http, Options options) {
        if (ds == null || targets == null || http == null || options == null) {
            throw new IllegalArgumentException("data source, targets, HTTP client and options are required");
        }
        for (WebhookTarget t : targets) {
            if (this.targets.putIfAbsent(t.name(), t) != null) {
                throw new IllegalArgumentException(
                        "two webhook targets are named '" + t.name() + "'; names must be unique");
            }
        }
        this.ds = ds;
        this.http = http;
        this.options = options;
        this.worker = Thread.ofVirtual().name("alert-notifier").start(this::run);
    }

    /** Queues the "raised" event for every target that takes the alert's severity. */
    public void raised(Alert alert) {
        enqueue(alert, Event.RAISED);
    }

    /** Queues the "resolved" event (resolvedAt defaults to now) for every target that takes the alert's severity. */
    public void resolved(Alert alert) {
        enqueue(alert.resolvedAt() == null ? alert.resolve(clock.instant()) : alert, Event.RESOLVED);
    }

    private void enqueue(Alert alert, Event event) {
        if (closed) {
            throw new IllegalStateException("the alert notifier is closed; alert " + alert.id() + " was not queued");
        }
        String json;
        try {
            json = WebhookPayloads.JSON.writeValueAsString(alert);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(
                    "alert " + alert.id() + " cannot be written as JSON (its details must be plain"
                            + " values, lists and maps): " + e.getOriginalMessage(),
                    e);
        }
        OffsetDateTime now = utc(clock.instant());
        int queued = 0;
        try (Connection c = ds.getConnection()) {
            boolean autoCommit = c.getAutoCommit();
            c.setAutoCommit(false);
            try (PreparedStatement ps =
                    c.prepareStatement("INSERT INTO alert_deliveries (target, alert_id, event, alert, state,"
                            + " attempts, created_at, next_attempt_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)")) {
                for (WebhookTarget t : targets.values()) {
                    if (t.accepts(alert.severity())) {
                        ps.setString(1, t.name());
                        ps.setString(2, alert.id());
                        ps.setString(3, event.wire());
                        ps.setString(4, json);
                        ps.setObject(5, now);
                        ps.setObject(6, now);
                        ps.addBatch();
                        queued++;
                    }
                }
                if (queued > 0) {
                    ps.executeBatch();
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(autoCommit);
            }
        } catch (SQLException e) {
            throw new AlertDeliveryException(
                    "could not queue alert " + alert.id() + " (" + event.wire() + ") for delivery: " + e.getMessage()
                            + "; check the controller database",
                    e);
        }
        if (queued == 0) {
            log.debug("alert {} ({}) matches no webhook target", alert.id(), alert.severity());
        }
        wake.release();
    }

    /** Outbox rows for one alert, oldest first. */
    public List<Delivery> deliveries(String alertId) {
        return queryDeliveries(
                "SELECT " + DELIVERY_COLUMNS + " FROM alert_deliveries WHERE alert_id = ? ORDER BY id",
                ps -> ps.setString(1, alertId));
    }

    /** The newest outbox rows, newest first. */
    public List<Delivery> recent(int limit) {
        if (limit < 1 || limit > 10_000) {
            throw new IllegalArgumentException("limit must be between 1 and 10000, was " + limit);
        }
        return queryDeliveries(
                "SELECT " + DELIVERY_COLUMNS + " FROM alert_deliveries ORDER BY id DESC LIMIT ?",
                ps -> ps.setInt(1, limit));
    }

    /** How many deliveries are still to be sent. */
    public long pendingCount() {
        try (Connection c = ds.getConnection();
                PreparedStatement ps =
                        c.prepareStatement("SELECT COUNT(*) FROM alert_deliveries WHERE state = 'pending'");
                ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new AlertDeliveryException("could not read the alert outbox: " + e.getMessage(), e);
        }
    }

    /**
     * Stops the worker: a request in flight is abandoned and its row handed back (it is sent again by the next
     * notifier). Pending rows stay in the database.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        closing.complete(null);
        wake.release();
        try {
            worker.join(options.requestTimeout().plusSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try (Connection c = ds.getConnection();
                PreparedStatement ps =
                        c.prepareStatement("UPDATE alert_deliveries SET claimed_by = NULL, claimed_until = NULL"
                                + " WHERE claimed_by = ? AND state = 'pending'")) {
            ps.setString(1, instanceId);
            ps.executeUpdate();
        } catch (SQLException e) {
            log.warn(
                    "could not hand back claimed alert deliveries (they are retried when their lease ends): {}",
                    e.toString());
        }
    }

    // ---------------------------------------------------------------- worker

    private void run() {
        Instant nextPurge = clock.instant();
        while (!closed) {
            try {
                int started = deliverDue();
                if (closed) {
                    break;
                }
                if (clock.instant().isAfter(nextPurge)) {
                    purgeFinished();
                    nextPurge = clock.instant().plus(Duration.ofHours(1));
                }
                if (started > 0) {
                    continue;
                }
                long waitMs = millisUntilNextDue();
                if (wake.tryAcquire(waitMs, TimeUnit.MILLISECONDS)) {
                    wake.drainPermits();
                }
            } catch (InterruptedException e) {
                break;
            } catch (Exception e) {
                // a database hiccup must not end deliveries for the life of the controller
                log.warn("alert delivery pass failed; retrying in {}: {}", options.pollInterval(), e.toString());
                try {
                    if (wake.tryAcquire(options.pollInterval().toMillis(), TimeUnit.MILLISECONDS)) {
                        wake.drainPermits();
                    }
                } catch (InterruptedException ie) {
                    break;
                }
            }
        }
    }

    /** Claims due rows and attempts them, in parallel; returns how many were attempted. */
    private int deliverDue() throws SQLException {
        Instant now = clock.instant();
        List<Row> due = new ArrayList<>();
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(
                        "SELECT d.id, d.target, d.alert_id, d.event, d.alert, d.attempts, d.created_at"
                                + " FROM alert_deliveries d WHERE d.next_attempt_at <= ? AND" + DUE_FILTER
                                + " ORDER BY d.next_attempt_at, d.id LIMIT " + BATCH)) {
            ps.setObject(1, utc(now));
            ps.setObject(2, utc(now));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    due.add(new Row(
                            rs.getLong(1),
                            rs.getString(2),
                            rs.getString(3),
                            Event.ofWire(rs.getString(4)),
                            rs.getString(5),
                            rs.getInt(6),
                            rs.getObject(7, OffsetDateTime.class).toInstant()));
                }
            }
        }
        List<Row> mine = new ArrayList<>();
        for (Row r : due) {
            if (claim(r, now)) {
                mine.add(r);
            }
        }
        if (mine.size() == 1) {
            attempt(mine.getFirst());
        } else if (!mine.isEmpty()) {
            // one slow or unreachable receiver must not hold up the others
            try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (Row r : mine) {
                    pool.submit(() -> attempt(r));
                }
            }
        }
        return mine.size();
    }

    private Duration lease() {
        return options.requestTimeout().multipliedBy(2).plusSeconds(10);
    }

    private boolean claim(Row r, Instant now) throws SQLException {
        try (Connection c = ds.getConnection();
                PreparedStatement ps =
                        c.prepareStatement("UPDATE alert_deliveries SET claimed_by = ?, claimed_until = ?"
                                + " WHERE id = ? AND state = 'pending' AND (claimed_until IS NULL OR claimed_until < "
                                + "?)")) {
            ps.setString(1, instanceId);
            ps.setObject(2, utc(now.plus(lease())));
            ps.setLong(3, r.id());
            ps.setObject(4, utc(now));
            return ps.executeUpdate() == 1;
        }
    }

    private void attempt(Row row) {
        try {
            WebhookTarget target = targets.get(row.target());
            if (target == null) {
                log.warn(
                        "dropping {} event of alert {}: webhook target '{}' is no longer configured",
                        row.event().wire(),
                        row.alertId(),
                        row.target());
                finish(row, DROPPED, null, "webhook target '" + row.target() + "' is no longer configured");
                return;
            }
            Alert alert;
            try {
                alert = WebhookPayloads.JSON.readValue(row.alertJson(), Alert.class);
            } catch (JsonProcessingException | IllegalArgumentException e) {
                log.error("dropping delivery {}: the stored alert cannot be read: {}", row.id(), e.getMessage());
                finish(row, DROPPED, null, "stored alert unreadable: " + e.getMessage());
                return;
            }
            HttpRequest.Builder req = HttpRequest.newBuilder(target.url())
                    .timeout(options.requestTimeout())
                    .header("Content-Type", "application/json")
                    .header("User-Agent", "lifeboat-controller")
                    // the same on every retry, so a receiver can drop a repeat whose first answer we never saw
                    .header("X-Lifeboat-Delivery", Long.toString(row.id()))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(WebhookPayloads.render(target, alert, row.event())));
            target.headers().forEach(req::header);
            CompletableFuture<HttpResponse<String>> response =
                    http.sendAsync(req.build(), HttpResponse.BodyHandlers.ofString());
            try {
                // the request timeout may not cover connecting on every client: bound the whole attempt here
                CompletableFuture.anyOf(response, closing)
                        .get(options.requestTimeout().plusSeconds(2).toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                response.cancel(true);
                retryLater(row, target, null, "no answer within " + options.requestTimeout(), null);
                return;
            } catch (ExecutionException | CancellationException e) {
                // the response future failed: handled below
            }
            if (!response.isDone()) {
                response.cancel(true);
                release(row);
                return;
            }
            HttpResponse<String> r;
            try {
                r = response.join();
            } catch (CompletionException | CancellationException e) {
                Throwable cause = e.getCause() == null ? e : e.getCause();
                retryLater(row, target, null, cause.toString(), null);
                return;
            }
            handle(row, target, r);
        } catch (SQLException e) {
            log.warn(
                    "could not record the outcome of alert delivery {} (it will be retried when its lease ends): {}",
                    row.id(),
                    e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.error("alert delivery {} failed unexpectedly", row.id(), e);
        }
    }

    private void handle(Row row, WebhookTarget target, HttpResponse<String> r) throws SQLException {
        int status = r.statusCode();
        if (status >= 200 && status < 300) {
            finish(row, DELIVERED, status, null);
            log.info(
                    "alert {} ({}) delivered to {} after {} attempt(s)",
                    row.alertId(),
                    row.event().wire(),
                    target.name(),
                    row.attempts() + 1);
            return;
        }
        String error = "HTTP " + status
                + (r.body() == null || r.body().isBlank() ? "" : ": " + r.body().strip());
        if (status == 429 || status == 408 || status == 425 || status >= 500) {
            Duration retryAfter = status == 429 || status == 503 ? retryAfter(r) : null;
            retryLater(row, target, status, error, retryAfter);
            return;
        }
        log.error(
                "{} refused the {} event of alert {} with {}; not retrying: check the target's URL{} and credentials",
                target,
                row.event().wire(),
                row.alertId(),
                cut(error, 300),
                target.format() == WebhookTarget.Format.PAGERDUTY_EVENTS_V2 ? ", routing key" : "");
        finish(row, REJECTED, status, error);
    }

    private void retryLater(Row row, WebhookTarget target, Integer status, String error, Duration retryAfter)
            throws SQLException {
        int attempts = row.attempts() + 1;
        Instant now = clock.instant();
        Instant deadline = row.createdAt().plus(options.maxAge());
        if (!now.isBefore(deadline)) {
            log.error(
                    "giving up on the {} event of alert {} for {} after {} attempts over {}: {}",
                    row.event().wire(),
                    row.alertId(),
                    target,
                    attempts,
                    Duration.between(row.createdAt(), now).truncatedTo(ChronoUnit.MILLIS),
                    cut(error, 300));
            finish(row, EXPIRED, status, error);
            return;
        }
        Duration delay = retryAfter != null ? retryAfter : backoff(attempts);
        Instant next = now.plus(delay);
        if (next.isAfter(deadline)) {
            next = deadline; // one last try when the time is up
        }
        log.warn(
                "delivering the {} event of alert {} to {} failed (attempt {}: {}); next try at {}",
                row.event().wire(),
                row.alertId(),
                target,
                attempts,
                cut(error, 300),
                next);
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(
                        "UPDATE alert_deliveries SET attempts = ?, next_attempt_at = ?, last_status = ?,"
                                + " last_error = ?, claimed_by = NULL, claimed_until = NULL WHERE id = ?")) {
            ps.setInt(1, attempts);
            ps.setObject(2, utc(next));
            setIntOrNull(ps, 3, status);
            ps.setString(4, cut(error, ERROR_MAX));
            ps.setLong(5, row.id());
            ps.executeUpdate();
        }
    }

    /** {@code initialBackoff · 2^(attempts-1)}, at most {@code maxBackoff}, then a random half to all of it. */
    Duration backoff(int attempts) {
        return Backoff.exponential(options.initialBackoff(), options.maxBackoff())
                .delayAfter(attempts);
    }

    /** Retry-After as seconds or as an HTTP date; null when absent or unreadable. */
    private Duration retryAfter(HttpResponse<?> r) {
        String v = r.headers().firstValue("Retry-After").map(String::trim).orElse(null);
        if (v == null || v.isEmpty()) {
            return null;
        }
        try {
            return Duration.ofSeconds(Math.max(0, Long.parseLong(v)));
        } catch (NumberFormatException e) {
            try {
                Instant at = DateTimeFormatter.RFC_1123_DATE_TIME.parse(v, Instant::from);
                Duration d = Duration.between(clock.instant(), at);
                return d.isNegative() ? Duration.ZERO : d;
            } catch (DateTimeParseException e2) {
                return null;
            }
        }
    }

    private void finish(Row row, String state, Integer status, String error) throws SQLException {
        try (Connection c = ds.getConnection();
                PreparedStatement ps =
                        c.prepareStatement("UPDATE alert_deliveries SET state = ?, attempts = ?, last_status = ?,"
                                + " last_error = ?, finished_at = ?, claimed_by = NULL, claimed_until = NULL WHERE id "
                                + "= ?")) {
            ps.setString(1, state);
            ps.setInt(2, DROPPED.equals(state) ? row.attempts() : row.attempts() + 1);
            setIntOrNull(ps, 3, status);
            ps.setString(4, error == null ? null : cut(error, ERROR_MAX));
            ps.setObject(5, utc(clock.instant()));
            ps.setLong(6, row.id());
            ps.executeUpdate();
        }
    }

    private void release(Row row) throws SQLException {
        try (Connection c = ds.getConnection();
                PreparedStatement ps =
                        c.prepareStatement("UPDATE alert_deliveries SET claimed_by = NULL, claimed_until = NULL"
                                + " WHERE id = ? AND claimed_by = ?")) {
            ps.setLong(1, row.id());
            ps.setString(2, instanceId);
            ps.executeUpdate();
        }
    }

    private long millisUntilNextDue() throws SQLException {
        Instant now = clock.instant();
        long max = options.pollInterval().toMillis();
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(
                        "SELECT MIN(d.next_attempt_at) FROM alert_deliveries d WHERE" + DUE_FILTER)) {
            ps.setObject(1, utc(now));
            try (ResultSet rs = ps.executeQuery()) {
                OffsetDateTime next = rs.next() ? rs.getObject(1, OffsetDateTime.class) : null;
                if (next == null) {
                    return max;
                }
                // at least a few ms: a row another controller just claimed must not make this loop spin
                return Math.clamp(Duration.between(now, next.toInstant()).toMillis() + 1, 10, max);
            }
        }
    }

    private void purgeFinished() throws SQLException {
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(
                        "DELETE FROM alert_deliveries WHERE state <> 'pending' AND finished_at < ?")) {
            ps.setObject(1, utc(clock.instant().minus(options.keepFinished())));
            int n = ps.executeUpdate();
            if (n > 0) {
                log.debug("removed {} finished alert deliveries older than {}", n, options.keepFinished());
            }
        }
    }

    private interface Binder {
        void bind(PreparedStatement ps) throws SQLException;
    }

    private List<Delivery> queryDeliveries(String sql, Binder binder) {
        List<Delivery> out = new ArrayList<>();
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement(sql)) {
            binder.bind(ps);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    int status = rs.getInt(7);
                    Integer lastStatus = rs.wasNull() ? null : status;
                    OffsetDateTime finished = rs.getObject(11, OffsetDateTime.class);
                    out.add(new Delivery(
                            rs.getLong(1),
                            rs.getString(2),
                            rs.getString(3),
                            rs.getString(4),
                            rs.getString(5),
                            rs.getInt(6),
                            lastStatus,
                            rs.getString(8),
                            rs.getObject(9, OffsetDateTime.class).toInstant(),
                            rs.getObject(10, OffsetDateTime.class).toInstant(),
                            finished == null ? null : finished.toInstant()));
                }
            }
        } catch (SQLException e) {
            throw new AlertDeliveryException("could not read the alert outbox: " + e.getMessage(), e);
        }
        return out;
    }

    private static void setIntOrNull(PreparedStatement ps, int index, Integer value) throws SQLException {
        if (value == null) {
            ps.setNull(index, Types.INTEGER);
        } else {
            ps.setInt(index, value);
        }
    }

    private static OffsetDateTime utc(Instant i) {
        return OffsetDateTime.ofInstant(i, ZoneOffset.UTC);
    }

    private static String cut(String s, int max) {
        return s == null || s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }
}
