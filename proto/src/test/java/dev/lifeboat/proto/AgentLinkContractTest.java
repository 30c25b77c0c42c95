package dev.lifeboat.proto;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.proto.v1.AgentLinkGrpc;
import dev.lifeboat.proto.v1.AgentMessage;
import dev.lifeboat.proto.v1.ControllerMessage;
import dev.lifeboat.proto.v1.Heartbeat;
import dev.lifeboat.proto.v1.Hello;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobRequest;
import dev.lifeboat.proto.v1.JobType;
import dev.lifeboat.proto.v1.Welcome;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The generated contract round-trips over grpc-java's in-process transport (the real client and server stacks,
 * without sockets): an agent says hello and is welcomed; on its heartbeat it gets a job and streams the job's events
 * back.
 */
class AgentLinkContractTest {

    @Test
    @SuppressWarnings("unchecked")
    void agentHelloWelcomeJobAndEventsRoundTrip() throws Exception {
        List<AgentMessage> received = new CopyOnWriteArrayList<>();
        CountDownLatch completed = new CountDownLatch(1);
        AgentLinkGrpc.AgentLinkImplBase controller = new AgentLinkGrpc.AgentLinkImplBase() {
            @Override
            public StreamObserver<AgentMessage> connect(StreamObserver<ControllerMessage> toAgent) {
                return new StreamObserver<>() {
                    @Override
                    public void onNext(AgentMessage m) {
                        received.add(m);
                        if (m.hasHello()) {
                            toAgent.onNext(ControllerMessage.newBuilder()
                                    .setWelcome(Welcome.newBuilder().setHeartbeatSeconds(5))
                                    .build());
                        }
                        if (m.hasHeartbeat()) {
                            toAgent.onNext(ControllerMessage.newBuilder()
                                    .setStart(JobRequest.newBuilder()
                                            .setJobId("job-1")
                                            .setType(JobType.BACKUP_FULL)
                                            .setDatabase("main")
                                            .putParams("compression", "low"))
                                    .build());
                        }
                        if (m.hasEvent() && m.getEvent().getKind() == JobEvent.Kind.COMPLETED) {
                            toAgent.onCompleted();
                            completed.countDown();
                        }
                    }

                    @Override
                    public void onError(Throwable t) {}

                    @Override
                    public void onCompleted() {}
                };
            }
        };
        String name = InProcessServerBuilder.generateName();
        Server server = InProcessServerBuilder.forName(name)
                .directExecutor()
                .addService(controller)
                .build()
                .start();
        ManagedChannel channel =
                InProcessChannelBuilder.forName(name).directExecutor().build();
        try {
            List<ControllerMessage> commands = new CopyOnWriteArrayList<>();
            StreamObserver<AgentMessage>[] up = new StreamObserver[1];
            up[0] = AgentLinkGrpc.newStub(channel).connect(new StreamObserver<>() {
                @Override
                public void onNext(ControllerMessage m) {
                    commands.add(m);
                    if (m.hasStart()) {
                        String id = m.getStart().getJobId();
                        up[0].onNext(AgentMessage.newBuilder()
                                .setEvent(JobEvent.newBuilder()
                                        .setJobId(id)
                                        .setSequence(1)
                                        .setKind(JobEvent.Kind.STARTED))
                                .build());
                        up[0].onNext(AgentMessage.newBuilder()
                                .setEvent(JobEvent.newBuilder()
                                        .setJobId(id)
                                        .setSequence(2)
                                        .setKind(JobEvent.Kind.PROGRESS)
                                        .setBytesDone(512)
                                        .setBytesTotal(1024)
                                        .setEtaSeconds(1.5))
                                .build());
                        up[0].onNext(AgentMessage.newBuilder()
                                .setEvent(JobEvent.newBuilder()
                                        .setJobId(id)
                                        .setSequence(3)
                                        .setKind(JobEvent.Kind.COMPLETED)
                                        .setResultJson("{\"ok\":true}"))
                                .build());
                    }
                }

                @Override
                public void onError(Throwable t) {}

                @Override
                public void onCompleted() {
                    up[0].onCompleted();
                }
            });
            up[0].onNext(AgentMessage.newBuilder()
                    .setHello(Hello.newBuilder()
                            .setAgentId("agent-eu-1")
                            .setRegion("eu")
                            .addDatabases("main")
                            .setMaxConcurrentJobs(2))
                    .build());
            up[0].onNext(AgentMessage.newBuilder()
                    .setHeartbeat(Heartbeat.newBuilder())
                    .build());
            assertThat(completed.await(10, TimeUnit.SECONDS)).isTrue();

            assertThat(commands.getFirst().getWelcome().getHeartbeatSeconds()).isEqualTo(5);
            assertThat(commands.get(1).getStart().getParamsMap()).containsEntry("compression", "low");
            assertThat(received.getFirst().getHello().getAgentId()).isEqualTo("agent-eu-1");
            assertThat(received.get(1).hasHeartbeat()).isTrue();
            assertThat(received.stream()
                            .filter(AgentMessage::hasEvent)
                            .map(m -> m.getEvent().getSequence())
                            .toList())
                    .containsExactly(1L, 2L, 3L);
            assertThat(received.stream()
                            .filter(AgentMessage::hasEvent)
                            .filter(m -> m.getEvent().getKind() == JobEvent.Kind.PROGRESS)
                            .findFirst()
                            .orElseThrow()
                            .getEvent()
                            .getBytesDone())
                    .isEqualTo(512);
        } finally {
            channel.shutdownNow();
            server.shutdownNow();
        }
    }
}
