package dev.lifeboat.controller.agents;

import dev.lifeboat.controller.events.EventBus;
import dev.lifeboat.controller.jobs.JobRecord;
import dev.lifeboat.controller.jobs.JobStore;
import dev.lifeboat.controller.status.MetricStore;
import dev.lifeboat.proto.v1.AgentLinkGrpc;
import dev.lifeboat.proto.v1.AgentMessage;
import dev.lifeboat.proto.v1.ControllerMessage;
import dev.lifeboat.proto.v1.Hello;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobType;
import dev.lifeboat.proto.v1.Welcome;
import dev.lifeboat.security.MutualTls;
import dev.lifeboat.security.Pki;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.net.ConnectException;
import java.sql.SQLException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiPredicate;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller's end of the agents' streams: a Hello first (its agent id must be the certificate's common name),
 * then heartbeats, job events and metrics; start and cancel commands go down the same stream.
 */
public final class AgentLinkService extends AgentLinkGrpc.AgentLinkImplBase {
    private static final Logger log = LoggerFactory.getLogger(AgentLinkService.class);

    private final AgentRegistry registry;
    private final JobStore jobs;
    private final MetricStore metrics;
    private final EventBus events;
    private final Consumer<JobRecord> jobEnded;
    private final BiPredicate<String, String> agentHostsDatabase;

    /** @param agentHostsDatabase whether the inventory assigns a database to an agent: only then are its metrics
     * believed */
    public AgentLinkService(
            AgentRegistry registry,
            JobStore jobs,
            MetricStore metrics,
            EventBus events,
            Consumer<JobRecord> jobEnded,
            BiPredicate<String, String> agentHostsDatabase) {
        this.agentHostsDatabase = agentHostsDatabase;
        this.registry = registry;
        this.jobs = jobs;
        this.metrics = metrics;
        this.events = events;
        this.jobEnded = jobEnded;
    }

    private static boolean transientFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLTransientException
                    || t instanceof SQLRecoverableException
                    || t instanceof ConnectException) {
                return true;
            }
            if (t instanceof SQLException sql
                    && sql.getSQLState() != null
                    && (sql.getSQLState().startsWith("08")
                            || sql.getSQLState().startsWith("40")
                            || sql.getSQLState().equals("HYT00"))) {
                return true; // connection failures, serialization failures / deadlocks, lock timeouts
            }
        }
        return false;
    }

    @Override
    public StreamObserver<AgentMessage> connect(StreamObserver<ControllerMessage> out) {
        MutualTls.PeerIdentity peer = MutualTls.PEER.get();
        return new StreamObserver<>() {
            private AgentSession session;

            @Override
            public void onNext(AgentMessage m) {
                try {
                    if (session == null) {
                        if (!m.hasHello()) {
                            out.onError(Status.FAILED_PRECONDITION
                                    .withDescription("the first message must be a Hello")
                                    .asRuntimeException());
                            return;
                        }
                        hello(m.getHello());
                        return;
                    }
                    switch (m.getBodyCase()) {
                        case HEARTBEAT ->
                            registry.heartbeat(session, m.getHeartbeat().getRunningJobIdsList());
                        case EVENT -> event(m.getEvent());
                        case METRICS ->
                            metrics.put(
                                    session.agentId,
                                    m.getMetrics().getSamplesList().stream()
                                            .filter(x -> !x.containsLabels("database")
                                                    || agentHostsDatabase.test(
                                                            session.agentId, x.getLabelsOrThrow("database")))
                                            .toList());
                        default -> log.debug("agent {} sent an unexpected {}", session.agentId, m.getBodyCase());
                    }
                } catch (RuntimeException e) {
                    if (!transientFailure(e)) {
                        // a message the database will never take: skipped, or the agent would resend it forever
                        log.error(
                                "a message from agent {} could not be recorded and is skipped",
                                session == null ? "?" : session.agentId,
                                e);
                        return;
                    }
                    // the database is briefly unavailable: end the stream, so the agent reconnects and sends it again
                    log.error(
                            "handling a message from agent {} failed; closing its stream",
                            session == null ? "?" : session.agentId,
                            e);
                    if (session != null) {
                        session.close("the controller could not record a message: " + e.getMessage());
                        registry.disconnected(session, "controller could not record a message");
                    } else {
                        out.onError(Status.INTERNAL
                                .withDescription("cannot handle the message")
                                .asRuntimeException());
                    }
                }
            }

            private void hello(Hello h) {
                if (peer != null && (!peer.commonName().equals(h.getAgentId()) || peer.role() != Pki.Role.AGENT)) {
                    log.warn(
                            "refused agent link: certificate {} ({}) said it is agent '{}'",
                            peer.commonName(),
                            peer.role(),
                            h.getAgentId());
                    out.onError(Status.PERMISSION_DENIED
                            .withDescription("agent id '" + h.getAgentId() + "' does not match the certificate ("
                                    + peer.commonName() + ", role " + peer.role() + ")")
                            .asRuntimeException());
                    return;
                }
                if (h.getAgentId().isBlank() || h.getRegion().isBlank()) {
                    out.onError(Status.INVALID_ARGUMENT
                            .withDescription("Hello needs agent_id and region")
                            .asRuntimeException());
                    return;
                }
                session = registry.connect(
                        h.getAgentId(),
                        h.getRegion(),
                        h.getVersion(),
                        h.getDatabasesList(),
                        h.getMaxConcurrentJobs(),
                        out);
                session.send(ControllerMessage.newBuilder()
                        .setWelcome(Welcome.newBuilder().setHeartbeatSeconds((int)
                                Math.max(1, registry.heartbeat().toSeconds())))
                        .build());
                for (JobEvent e : h.getInterruptedList()) {
                    event(e);
                }
            }

            private void event(JobEvent e) {
                if (jobs.get(e.getJobId()).isEmpty() && e.getType() != JobType.JOB_TYPE_UNSPECIFIED) {
                    // a job the agent started on its own (its WAL stream, a CLI submit): recorded from its first event
                    // seen
                    jobs.createIfAbsent(
                            e.getJobId(),
                            e.getType().name(),
                            e.getDatabase(),
                            session.agentId,
                            Map.of(),
                            e.getRequestedBy().isBlank() ? "agent:" + session.agentId : e.getRequestedBy());
                }
                if (!jobs.apply(e, session.agentId)) {
                    return;
                }
                jobs.get(e.getJobId()).ifPresent(j -> {
                    if (e.getKind() != JobEvent.Kind.PROGRESS) {
                        Map<String, Object> data = new LinkedHashMap<>();
                        data.put("job", j.id());
                        data.put("type", j.type());
                        data.put("database", j.database());
                        data.put("agent", j.agentId());
                        data.put("sequence", e.getSequence());
                        if (!e.getMessage().isEmpty()) {
                            data.put("message", e.getMessage());
                        }
                        events.publish(JobEventNames.name(j.type(), e.getKind().name()), data);
                    } else {
                        events.publish(
                                JobEventNames.subject(j.type()) + ":progress",
                                Map.of(
                                        "job",
                                        j.id(),
                                        "database",
                                        j.database(),
                                        "phase",
                                        e.getPhase(),
                                        "bytesDone",
                                        e.getBytesDone(),
                                        "bytesTotal",
                                        e.getBytesTotal(),
                                        "bytesPerSecond",
                                        e.getBytesPerSecond(),
                                        "etaSeconds",
                                        e.getEtaSeconds()));
                    }
                    if (j.ended()) {
                        jobEnded.accept(j);
                    }
                });
            }

            @Override
            public void onError(Throwable t) {
                if (session != null) {
                    registry.disconnected(
                            session, "stream broken: " + Status.fromThrowable(t).getCode());
                }
            }

            @Override
            public void onCompleted() {
                if (session != null) {
                    registry.disconnected(session, AgentRegistry.AGENT_CLOSED);
                }
                try {
                    out.onCompleted();
                } catch (RuntimeException ignored) {
                    // already closed
                }
            }
        };
    }
}
