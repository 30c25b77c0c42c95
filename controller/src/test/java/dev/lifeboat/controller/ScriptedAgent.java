package dev.lifeboat.controller;

import com.google.protobuf.Timestamp;
import dev.lifeboat.proto.v1.AgentLinkGrpc;
import dev.lifeboat.proto.v1.AgentMessage;
import dev.lifeboat.proto.v1.ControllerMessage;
import dev.lifeboat.proto.v1.Heartbeat;
import dev.lifeboat.proto.v1.Hello;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.MetricSample;
import dev.lifeboat.proto.v1.Metrics;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A test's own agent: a real gRPC client over real TLS that speaks the AgentLink protocol step by step as the test
 * says (hello, heartbeats, events, metrics), so controller logic can be checked without a database behind it.
 */
final class ScriptedAgent implements AutoCloseable {
    final LinkedBlockingQueue<ControllerMessage> received = new LinkedBlockingQueue<>();
    final LinkedBlockingQueue<Throwable> ended = new LinkedBlockingQueue<>();
    private final ManagedChannel channel;
    private final StreamObserver<AgentMessage> up;

    ScriptedAgent(int port, ChannelCredentials creds) {
        channel = NettyChannelBuilder.forTarget("127.0.0.1:" + port, creds).build();
        up = AgentLinkGrpc.newStub(channel).connect(new StreamObserver<>() {
            @Override
            public void onNext(ControllerMessage m) {
                received.add(m);
            }

            @Override
            public void onError(Throwable t) {
                ended.add(t);
            }

            @Override
            public void onCompleted() {
                ended.add(new IllegalStateException("completed"));
            }
        });
    }

    ScriptedAgent hello(String id, String region, String... databases) throws InterruptedException {
        send(AgentMessage.newBuilder()
                .setHello(Hello.newBuilder()
                        .setAgentId(id)
                        .setRegion(region)
                        .setVersion("test")
                        .addAllDatabases(List.of(databases))
                        .setMaxConcurrentJobs(2))
                .build());
        ControllerMessage w = received.poll(10, TimeUnit.SECONDS);
        if (w == null || !w.hasWelcome()) {
            throw new AssertionError("no welcome: " + w + " / " + ended.peek());
        }
        return this;
    }

    void heartbeat(String... running) {
        send(AgentMessage.newBuilder()
                .setHeartbeat(Heartbeat.newBuilder().setAt(ts(Instant.now())).addAllRunningJobIds(List.of(running)))
                .build());
    }

    void event(String jobId, long seq, JobEvent.Kind kind, String resultJson) {
        JobEvent.Builder e = JobEvent.newBuilder()
                .setJobId(jobId)
                .setSequence(seq)
                .setKind(kind)
                .setAt(ts(Instant.now()))
                .setEtaSeconds(-1);
        if (resultJson != null) {
            e.setResultJson(resultJson);
        }
        send(AgentMessage.newBuilder().setEvent(e).build());
    }

    void metric(String name, Map<String, String> labels, double value) {
        send(AgentMessage.newBuilder()
                .setMetrics(Metrics.newBuilder()
                        .addSamples(MetricSample.newBuilder()
                                .setName(name)
                                .putAllLabels(labels)
                                .setValue(value)
                                .setAt(ts(Instant.now()))))
                .build());
    }

    ControllerMessage next() throws InterruptedException {
        ControllerMessage m = received.poll(10, TimeUnit.SECONDS);
        if (m == null) {
            throw new AssertionError("the controller sent nothing");
        }
        return m;
    }

    synchronized void send(AgentMessage m) {
        up.onNext(m);
    }

    private static Timestamp ts(Instant i) {
        return Timestamp.newBuilder()
                .setSeconds(i.getEpochSecond())
                .setNanos(i.getNano())
                .build();
    }

    /** Vanishes without a goodbye (as after kill -9: the connection drops). */
    @Override
    public void close() {
        channel.shutdownNow();
    }
}
