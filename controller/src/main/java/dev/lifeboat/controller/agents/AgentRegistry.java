package dev.lifeboat.controller.agents;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.controller.Auditor;
import dev.lifeboat.controller.events.EventBus;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.controller.jobs.JobStore;
import dev.lifeboat.proto.v1.ControllerMessage;
import io.grpc.stub.StreamObserver;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which agents exist, which are connected, and which are gone. An agent is gone when no heartbeat arrived for three
 * heartbeat intervals and it has not reconnected: its unfinished jobs fail as "agent gone" and listeners (alerts) hear
 * of it.
 */
public final class AgentRegistry implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AgentRegistry.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    public interface Listener {
        void connected(String agentId, String region);

        void gone(String agentId, String region, Instant lastHeartbeat);
    }

    public record AgentInfo(
            String id,
            String region,
            String version,
            List<String> databases,
            int maxConcurrentJobs,
            boolean connected,
            boolean gone,
            Instant firstSeen,
            Instant lastSeen,
            String disconnectReason,
            List<String> runningJobs) {}

    /** The longest an agent waits between reconnect attempts (its 30 s backoff cap with jitter: 45 s), plus a margin.
     * */
    static final Duration RECONNECT_GRACE = Duration.ofSeconds(60);
    /** The reason recorded when an agent ends its stream itself (a clean stop). */
    public static final String AGENT_CLOSED = "agent closed the stream";

    private final DataSource ds;
    private final JobStore jobs;
    private final EventBus events;
    private final Auditor audit;
    private final Duration heartbeat;
    private final Map<String, AgentSession> sessions = new ConcurrentHashMap<>();
    /** Agents whose stream ended or went silent, with the last time they were heard from. */
    private final Map<String, Instant> silentSince = new ConcurrentHashMap<>();

    private final Map<String, String> regions = new ConcurrentHashMap<>();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "agent-watchdog");
        t.setDaemon(true);
        return t;
    });

    public AgentRegistry(DataSource ds, JobStore jobs, EventBus events, Auditor audit, Duration heartbeat) {
        this.ds = ds;
        this.jobs = jobs;
        this.events = events;
        this.audit = audit;
        this.heartbeat = heartbeat;
        // Agents known from before a controller restart start silent: if they never come back they are gone. They get
        // the agents' longest reconnect backoff first, so a restart alone never declares them gone.
        for (AgentInfo a : list()) {
            regions.put(a.id(), a.region());
            silentSince.put(a.id(), Instant.now().plus(RECONNECT_GRACE));
        }
        long tick = Math.max(100, heartbeat.toMillis() / 4);
        watchdog.scheduleAtFixedRate(this::watch, tick, tick, TimeUnit.MILLISECONDS);
    }

    public Duration heartbeat() {
        return heartbeat;
    }

    public void addListener(Listener l) {
        listeners.add(l);
    }

    synchronized AgentSession connect(
            String agentId,
            String region,
            String version,
            List<String> databases,
            int maxJobs,
            StreamObserver<ControllerMessage> out) {
        AgentSession s = new AgentSession(agentId, region, databases, out);
        AgentSession old = sessions.put(agentId, s);
        if (old != null) {
            old.close("replaced by a newer connection of the same agent");
        }
        boolean wasGone = silentSince.remove(agentId) != null;
        regions.put(agentId, region);
        upsert(agentId, region, version, databases, maxJobs);
        audit.record(
                "agent:" + agentId,
                "agent.connected",
                agentId,
                Map.of("region", region, "version", version, "databases", databases));
        events.publish("agent:connected", Map.of("agent", agentId, "region", region));
        for (Listener l : listeners) {
            l.connected(agentId, region);
        }
        log.info("agent {} ({}) connected{}", agentId, region, wasGone ? " again" : "");
        return s;
    }

    void heartbeat(AgentSession s, List<String> running) {
        s.lastHeartbeat = Instant.now();
        s.runningJobs = Set.copyOf(running);
        s.heartbeats++;
        // A job the controller thinks runs there but that the agent's heartbeats keep not listing was lost (its start
        // never arrived, or its end did not): three heartbeats in a row, once it is older than the heartbeat window.
        Instant settled = Instant.now().minus(heartbeat.multipliedBy(3));
        Set<String> unfinished = new HashSet<>();
        for (JobRecord j : jobs.unfinishedOn(s.agentId)) {
            unfinished.add(j.id());
            if (running.contains(j.id()) || j.submittedAt().isAfter(settled)) {
                s.misses.remove(j.id());
                continue;
            }
            if (s.misses.merge(j.id(), 1, Integer::sum) >= 3
                    && jobs.fail(
                            j.id(),
                            "lost: agent " + s.agentId
                                    + " does not know this job (its start or its end did not arrive)")) {
                s.misses.remove(j.id());
                audit.record("controller", "job.lost", j.id(), Map.of("agent", s.agentId));
                events.publish(
                        JobEventNames.name(j.type(), "FAILED"),
                        Map.of("job", j.id(), "database", j.database(), "agent", s.agentId, "message", "lost"));
            }
        }
        s.misses.keySet().retainAll(unfinished);
        touch(s.agentId);
    }

    void disconnected(AgentSession s, String reason) {
        s.markClosed();
        if (sessions.remove(s.agentId, s)) {
            silentSince.put(s.agentId, s.lastHeartbeat);
            setDisconnected(s.agentId, reason);
            audit.record("agent:" + s.agentId, "agent.disconnected", s.agentId, Map.of("reason", reason));
            events.publish("agent:disconnected", Map.of("agent", s.agentId, "reason", reason));
            if (reason.equals(AGENT_CLOSED)) {
                log.info("agent {} disconnected: {}", s.agentId, reason);
            } else {
                log.warn("agent {} disconnected: {}", s.agentId, reason);
            }
        }
    }

    private void watch() {
        try {
            Instant now = Instant.now();
            Duration window = heartbeat.multipliedBy(3);
            for (AgentSession s : sessions.values()) {
                if (Duration.between(s.lastHeartbeat, now).compareTo(window) > 0) {
                    s.close("no heartbeat for " + window.toSeconds() + " s");
                    disconnected(s, "no heartbeat for " + window.toSeconds() + " s");
                }
            }
            for (Map.Entry<String, Instant> e : silentSince.entrySet()) {
                String agentId = e.getKey();
                Instant last = e.getValue();
                // replace, not setValue: an agent that reconnected meanwhile was removed from the map and must stay out
                if (last != Instant.MAX
                        && Duration.between(last, now).compareTo(window) > 0
                        && !sessions.containsKey(agentId)
                        && silentSince.replace(agentId, last, Instant.MAX)) {
                    // the recorded last heartbeat (after a controller restart the deadline itself was pushed out)
                    Instant heard = lastSeen(agentId).orElse(last);
                    declareGone(agentId, heard);
                }
            }
        } catch (RuntimeException e) {
            log.error("agent watchdog failed", e);
        }
    }

    private synchronized void declareGone(String agentId, Instant lastHeard) {
        // it may have reconnected since the watchdog looked
        if (silentSince.get(agentId) != Instant.MAX || sessions.containsKey(agentId)) {
            return;
        }
        String region = regions.getOrDefault(agentId, "");
        int failed = 0;
        for (JobRecord j : jobs.unfinishedOn(agentId)) {
            if (jobs.fail(j.id(), "agent gone: no heartbeat from " + agentId + " since " + lastHeard)) {
                failed++;
                events.publish(
                        JobEventNames.name(j.type(), "FAILED"),
                        Map.of("job", j.id(), "database", j.database(), "agent", agentId, "message", "agent gone"));
            }
        }
        audit.record(
                "controller",
                "agent.gone",
                agentId,
                Map.of("lastHeartbeat", lastHeard.toString(), "jobsFailed", failed));
        events.publish("agent:gone", Map.of("agent", agentId, "region", region, "lastHeartbeat", lastHeard.toString()));
        for (Listener l : listeners) {
            l.gone(agentId, region, lastHeard);
        }
        log.warn("agent {} gone (last heartbeat {}), {} job(s) failed", agentId, lastHeard, failed);
    }

    private Optional<Instant> lastSeen(String agentId) {
        return list().stream().filter(a -> a.id().equals(agentId)).findFirst().map(AgentInfo::lastSeen);
    }

    public Optional<AgentSession> session(String agentId) {
        AgentSession s = sessions.get(agentId);
        return s == null || s.isClosed() ? Optional.empty() : Optional.of(s);
    }

    public boolean isGone(String agentId) {
        return silentSince.get(agentId) == Instant.MAX;
    }

    public void send(String agentId, ControllerMessage m) {
        AgentSession s =
                session(agentId).orElseThrow(() -> new IllegalStateException("agent " + agentId + " is not connected"));
        s.send(m);
    }

    public List<AgentInfo> list() {
        List<AgentInfo> out = new ArrayList<>();
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement("SELECT * FROM agents ORDER BY id");
                ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                String id = rs.getString("id");
                List<String> dbs;
                try {
                    dbs = List.of(JSON.readValue(rs.getString("databases_json"), String[].class));
                } catch (Exception e) {
                    dbs = List.of();
                }
                AgentSession s = sessions.get(id);
                out.add(new AgentInfo(
                        id,
                        rs.getString("region"),
                        rs.getString("version"),
                        dbs,
                        rs.getInt("max_concurrent_jobs"),
                        s != null && !s.isClosed(),
                        isGone(id),
                        rs.getObject("first_seen", OffsetDateTime.class).toInstant(),
                        s != null
                                ? s.lastHeartbeat
                                : rs.getObject("last_seen", OffsetDateTime.class)
                                        .toInstant(),
                        rs.getString("disconnect_reason"),
                        s != null ? List.copyOf(s.runningJobs) : List.of()));
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    private void upsert(String id, String region, String version, List<String> databases, int maxJobs) {
        OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC);
        try (Connection c = ds.getConnection()) {
            String dbs = JSON.writeValueAsString(databases);
            int n;
            try (PreparedStatement ps = c.prepareStatement(
                    "UPDATE agents SET region = ?, version = ?, databases_json = ?, max_concurrent_jobs = ?,"
                            + " connected = TRUE, last_seen = ?, disconnect_reason = NULL WHERE id = ?")) {
                ps.setString(1, region);
                ps.setString(2, version);
                ps.setString(3, dbs);
                ps.setInt(4, maxJobs);
                ps.setObject(5, now);
                ps.setString(6, id);
                n = ps.executeUpdate();
            }
            if (n == 0) {
                try (PreparedStatement ps = c.prepareStatement(
                        "INSERT INTO agents (id, region, version, databases_json, max_concurrent_jobs,"
                                + " connected, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, TRUE, ?, ?)")) {
                    ps.setString(1, id);
                    ps.setString(2, region);
                    ps.setString(3, version);
                    ps.setString(4, dbs);
                    ps.setInt(5, maxJobs);
                    ps.setObject(6, now);
                    ps.setObject(7, now);
                    ps.executeUpdate();
                }
            }
        } catch (SQLException | JsonProcessingException e) {
            throw new IllegalStateException("cannot record agent " + id + ": " + e.getMessage(), e);
        }
    }

    private void touch(String id) {
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement("UPDATE agents SET last_seen = ? WHERE id = ?")) {
            ps.setObject(1, OffsetDateTime.now(ZoneOffset.UTC));
            ps.setString(2, id);
            ps.executeUpdate();
        } catch (SQLException e) {
            log.warn("cannot record heartbeat of {}: {}", id, e.getMessage());
        }
    }

    private void setDisconnected(String id, String reason) {
        try (Connection c = ds.getConnection();
                PreparedStatement ps =
                        c.prepareStatement("UPDATE agents SET connected = FALSE, disconnect_reason = ? WHERE id = ?")) {
            ps.setString(1, reason.length() > 1900 ? reason.substring(0, 1900) : reason);
            ps.setString(2, id);
            ps.executeUpdate();
        } catch (SQLException e) {
            log.warn("cannot record disconnect of {}: {}", id, e.getMessage());
        }
    }

    @Override
    public void close() {
        watchdog.shutdownNow();
        for (AgentSession s : sessions.values()) {
            s.close("controller stopping");
        }
    }
}
