package dev.lifeboat.agent;

import static dev.lifeboat.engine.postgres.PgTestSupport.cli;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.proto.v1.JobsGrpc;
import dev.lifeboat.proto.v1.ListJobsRequest;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's Jobs API over real mutual TLS on loopback: only clients with a certificate from the agent's CA get in.
 * */
class AgentTlsTest {
    @TempDir
    static Path tmp;

    static TestCerts.Ca ca;
    static TestCerts.Ca otherCa;
    static JobManager jobs;
    static AgentServer server;

    @BeforeAll
    static void setUp() throws Exception {
        ca = TestCerts.ca(tmp.resolve("ca"), "Lifeboat Test CA");
        otherCa = TestCerts.ca(tmp.resolve("other"), "Someone Else CA");
        TestCerts.Leaf agent = TestCerts.leaf(tmp.resolve("ca"), ca, "agent-tls");
        Path config = tmp.resolve("agent.yaml");
        Files.writeString(config, """
                id: agent-tls
                region: eu-test
                listen: 127.0.0.1:0
                state-dir: %s
                tls: {ca: %s, cert: %s, key: %s}
                """.formatted(tmp.resolve("state"), ca.certFile(), agent.cert(), agent.key()));
        AgentConfig cfg = AgentConfig.load(config);
        jobs = new JobManager(cfg, new SimpleMeterRegistry());
        server = new AgentServer(cfg.listen(), AgentServer.credentials(cfg), jobs).start();
    }

    @AfterAll
    static void tearDown() {
        if (server != null) {
            server.close();
        }
        if (jobs != null) {
            jobs.close();
        }
    }

    static void list(ChannelCredentials creds) {
        ManagedChannel ch =
                Grpc.newChannelBuilder("127.0.0.1:" + server.port(), creds).build();
        try {
            JobsGrpc.newBlockingStub(ch)
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .list(ListJobsRequest.getDefaultInstance());
        } finally {
            ch.shutdownNow();
        }
    }

    @Test
    void aClientWithACertificateFromTheAgentsCaIsServed() throws Exception {
        TestCerts.Leaf client = TestCerts.leaf(tmp.resolve("ca"), ca, "operator");
        list(TlsChannelCredentials.newBuilder()
                .keyManager(client.cert().toFile(), client.key().toFile())
                .trustManager(ca.certFile().toFile())
                .build());
        PgTestSupport.CliResult r = cli(
                "jobs",
                "list",
                "--agent",
                "127.0.0.1:" + server.port(),
                "--tls-ca",
                ca.certFile().toString(),
                "--tls-cert",
                client.cert().toString(),
                "--tls-key",
                client.key().toString());
        assertThat(r.exitCode()).as(r.all()).isZero();
        assertThat(r.out()).contains("no jobs on 127.0.0.1:" + server.port());
    }

    @Test
    void clientsWithoutACertificateOrWithOneFromAnotherCaAreRefused() throws Exception {
        assertRefused(TlsChannelCredentials.newBuilder()
                .trustManager(ca.certFile().toFile())
                .build());
        TestCerts.Leaf stranger = TestCerts.leaf(tmp.resolve("other"), otherCa, "stranger");
        assertRefused(TlsChannelCredentials.newBuilder()
                .keyManager(stranger.cert().toFile(), stranger.key().toFile())
                .trustManager(ca.certFile().toFile())
                .build());
        PgTestSupport.CliResult plain = cli("jobs", "list", "--agent", "127.0.0.1:" + server.port(), "--insecure-dev");
        assertThat(plain.exitCode()).isEqualTo(1);
        assertThat(plain.err()).contains("cannot reach the agent at 127.0.0.1:" + server.port());
        PgTestSupport.CliResult noTls = cli("jobs", "list", "--agent", "127.0.0.1:" + server.port());
        assertThat(noTls.exitCode()).isNotZero();
        assertThat(noTls.err()).contains("pass --tls-ca, --tls-cert and --tls-key");
        PgTestSupport.CliResult remote = cli("jobs", "list", "--agent", "192.0.2.1:7444", "--insecure-dev");
        assertThat(remote.err()).contains("--insecure-dev is allowed only for an agent on loopback");
    }

    @Test
    void theClientRefusesAnAgentItsCaDidNotSign() throws Exception {
        TestCerts.Leaf client = TestCerts.leaf(tmp.resolve("other"), otherCa, "operator2");
        assertRefused(TlsChannelCredentials.newBuilder()
                .keyManager(client.cert().toFile(), client.key().toFile())
                .trustManager(otherCa.certFile().toFile())
                .build());
    }

    @Test
    void anotherAgentsCertificateFromTheSameCaMayNotDriveThisAgent() throws Exception {
        TestCerts.Leaf peer = TestCerts.leaf(tmp.resolve("ca"), ca, "agent-other");
        assertThatThrownBy(() -> list(TlsChannelCredentials.newBuilder()
                        .keyManager(peer.cert().toFile(), peer.key().toFile())
                        .trustManager(ca.certFile().toFile())
                        .build()))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED));
    }

    static void assertRefused(ChannelCredentials creds) {
        assertThatThrownBy(() -> list(creds))
                .isInstanceOfSatisfying(
                        StatusRuntimeException.class,
                        e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE));
    }
}
