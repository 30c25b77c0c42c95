package dev.lifeboat.agent.link;

import com.google.protobuf.Timestamp;
import dev.lifeboat.agent.JobManager;
import dev.lifeboat.common.Backoff;
import dev.lifeboat.proto.v1.AgentLinkGrpc;
import dev.lifeboat.proto.v1.AgentMessage;
import dev.lifeboat.proto.v1.ControllerMessage;
import dev.lifeboat.proto.v1.Heartbeat;
import dev.lifeboat.proto.v1.Hello;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobStatus;
import dev.lifeboat.proto.v1.MetricSample;
import dev.lifeboat.proto.v1.Metrics;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's dial-out connection to the controller: one bidirectional stream carrying a Hello, heartbeats, job events
 * and metrics up, and start/cancel commands down. It reconnects with capped exponential backoff and jitter; jobs keep
 * running while the controller is away (WAL streaming above all). After each (re)connect it re-sends the newest event
 * of every job it knows, so the controller catches up on whatever ended meanwhile (it ignores events it has seen).
 */
public final class ControllerLink implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ControllerLink.class);
    private static final Duration MIN_BACKOFF = Duration.ofMillis(500);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

    public record Identity(
            String agentId, String region, String version, List<String> databases, int maxConcurrentJobs) {}

    private final ManagedChannel channel;
    private final Identity identity;
    private final JobManager jobs;
    private final Supplier<List<MetricSample>> metrics;
    private final Duration metricsInterval;
    private final Thread loop;
    private volatile boolean closed;
    private volatile Session current;
    private volatile boolean connected;
    private List<JobEvent> interrupted;

    public ControllerLink(
            String controller,
            ChannelCredentials credentials,
            Identity identity,
            JobManager jobs,
            Supplier<List<MetricSample>> metrics,
            Duration metricsInterval) {
        this.channel = NettyChannelBuilder.forTarget(controller, credentials)
                .keepAliveTime(10, TimeUnit.SECONDS)
                .keepAliveTimeout(5, TimeUnit.SECONDS)
                .keepAliveWithoutCalls(true)
                .build();
        this.identity = identity;
        this.jobs = jobs;
        this.metrics = metrics;
        this.metricsInterval = metricsInterval;
        this.interrupted = jobs.interruptedAtStartup();
        this.loop = Thread.ofPlatform().name("controller-link").daemon().unstarted(this::run);
    }

    public ControllerLink start() {
        loop.start();
        return this;
    }

    public boolean isConnected() {
        return connected;
    }

    private void run() {
        Backoff.Attempts reconnects =
                Backoff.exponential(MIN_BACKOFF, MAX_BACKOFF).start();
        while (!closed) {
            // our own backoff decides when to try; gRPC's (up to 2 min after a long outage) must not add to it
            channel.resetConnectBackoff();
            Session s = new Session();
            current = s;
            String why = s.runUntilBroken();
            connected = false;
            if (closed) {
                break;
            }
            if (s.welcomed) {
                reconnects.reset();
            }
            log.warn(
                    "controller link down ({}); retrying in about {} ms",
                    why,
                    reconnects.nextDelay().toMillis());
            try {
                if (!reconnects.pause(() -> closed)) {
                    break;
                }
            } catch (InterruptedException e) {
                break;
            }
        }
    }

    /** One stream's lifetime. */
    private final class Session implements StreamObserver<ControllerMessage> {
        private final CountDownLatch ended = new CountDownLatch(1);
        private volatile String endReason = "closed";
        private volatile boolean welcomed;
        /** Set before the catch-up, so no event falls between it and the live stream (the controller drops repeats). */
        private volatile boolean eventsFlowing;

        private volatile Duration heartbeat = Duration.ofSeconds(5);
        private StreamObserver<AgentMessage> up;

        String runUntilBroken() {
            AutoCloseable subscription = null;
            try {
                up = AgentLinkGrpc.newStub(channel).connect(this);
                Hello.Builder hello = Hello.newBuilder()
                        .setAgentId(identity.agentId())
                        .setRegion(identity.region())
                        .setVersion(identity.version())
                        .addAllDatabases(identity.databases())
                        .setMaxConcurrentJobs(identity.maxConcurrentJobs());
                if (interrupted != null) {
                    hello.addAllInterrupted(interrupted);
                }
                send(AgentMessage.newBuilder().setHello(hello).build());
                // live events; anything lost while the stream was down is caught up below
                subscription = jobs.subscribeAll(e -> {
                    if (eventsFlowing) {
                        send(AgentMessage.newBuilder().setEvent(e).build());
                    }
                });
                Instant nextMetrics = Instant.EPOCH;
                Instant nextHeartbeat = Instant.EPOCH;
                while (!closed && ended.getCount() > 0) {
                    if (welcomed) {
                        Instant now = Instant.now();
                        if (!now.isBefore(nextHeartbeat)) {
                            send(AgentMessage.newBuilder()
                                    .setHeartbeat(Heartbeat.newBuilder()
                                            .setAt(ts(now))
                                            .addAllRunningJobIds(jobs.runningJobIds()))
                                    .build());
                            nextHeartbeat = now.plus(heartbeat);
                        }
                        if (!now.isBefore(nextMetrics)) {
                            send(AgentMessage.newBuilder()
                                    .setMetrics(Metrics.newBuilder().addAllSamples(metrics.get()))
                                    .build());
                            nextMetrics = now.plus(metricsInterval);
                        }
                    }
                    ended.await(200, TimeUnit.MILLISECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                endReason = e.toString();
            } finally {
                if (subscription != null) {
                    try {
                        subscription.close();
                    } catch (Exception ignored) {
                        // nothing to release
                    }
                }
                if (up != null) {
                    try {
                        if (closed) {
                            up.onCompleted();
                        } else {
                            up.onError(
                                    Status.CANCELLED.withDescription(endReason).asRuntimeException());
                        }
                    } catch (RuntimeException ignored) {
                        // already gone
                    }
                }
            }
            return endReason;
        }

        synchronized void send(AgentMessage m) {
            if (ended.getCount() == 0) {
                return;
            }
            up.onNext(m);
        }

        @Override
        public void onNext(ControllerMessage m) {
            switch (m.getBodyCase()) {
                case WELCOME -> {
                    heartbeat = Duration.ofSeconds(Math.max(1, m.getWelcome().getHeartbeatSeconds()));
                    interrupted = null;
                    eventsFlowing = true;
                    // before the first heartbeat: a job the heartbeat does not list must already be reported as ended
                    catchUp();
                    welcomed = true;
                    connected = true;
                    log.info("connected to the controller as {} ({})", identity.agentId(), identity.region());
                }
                case START -> {
                    try {
                        jobs.submit(m.getStart());
                    } catch (IOException | RuntimeException e) {
                        // the controller recorded the job; tell it why it will never start
                        send(AgentMessage.newBuilder()
                                .setEvent(JobEvent.newBuilder()
                                        .setJobId(m.getStart().getJobId())
                                        .setSequence(1)
                                        .setKind(JobEvent.Kind.FAILED)
                                        .setAt(ts(Instant.now()))
                                        .setEtaSeconds(-1)
                                        .setMessage("refused by agent " + identity.agentId() + ": " + e.getMessage()))
                                .build());
                    }
                }
                case CANCEL ->
                    jobs.cancel(m.getCancel().getJobId(), m.getCancel().getReason());
                default -> log.debug("ignored controller message {}", m.getBodyCase());
            }
        }

        private void catchUp() {
            for (JobStatus j : jobs.list(false)) {
                if (j.hasLastEvent()) {
                    send(AgentMessage.newBuilder().setEvent(j.getLastEvent()).build());
                }
            }
        }

        @Override
        public void onError(Throwable t) {
            Status s = Status.fromThrowable(t);
            endReason = s.getCode() + (s.getDescription() == null ? "" : ": " + s.getDescription());
            ended.countDown();
        }

        @Override
        public void onCompleted() {
            endReason = "controller closed the stream";
            ended.countDown();
        }
    }

    private static Timestamp ts(Instant i) {
        return Timestamp.newBuilder()
                .setSeconds(i.getEpochSecond())
                .setNanos(i.getNano())
                .build();
    }

    @Override
    public void close() {
        closed = true;
        Session s = current;
        if (s != null) {
            s.ended.countDown();
        }
        loop.interrupt();
        try {
            loop.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        channel.shutdownNow();
    }
}
