package dev.lifeboat.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.CallOptions;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real gRPC over real TLS on loopback: who may call, who is refused, and what identity the server sees. */
class MutualTlsGrpcTest {
    @TempDir
    static Path tmp;

    static Path ca;
    static Path otherCa;

    /** A trivial unary service: answers with the caller's identity as the identity interceptor put it in the context.
     * */
    static final MethodDescriptor<String, String> WHO_AM_I = MethodDescriptor.<String, String>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("lifeboat.test.Echo/WhoAmI")
            .setRequestMarshaller(new Utf8())
            .setResponseMarshaller(new Utf8())
            .build();

    final AtomicInteger handled = new AtomicInteger();
    final List<Server> servers = new ArrayList<>();
    final List<ManagedChannel> channels = new ArrayList<>();

    @BeforeAll
    static void pki() {
        ca = tmp.resolve("ca");
        otherCa = tmp.resolve("other-ca");
        Pki.initCa(ca, "Test CA", Duration.ofDays(30));
        Pki.initCa(otherCa, "Other CA", Duration.ofDays(30));
        Duration d = Duration.ofDays(1);
        Pki.issue(ca, Pki.Role.CONTROLLER, "controller", List.of(), List.of(), d, ca);
        Pki.issue(ca, Pki.Role.AGENT, "agent-eu", List.of(), List.of(), d, ca);
        Pki.issue(ca, Pki.Role.CLIENT, "ops", List.of(), List.of(), d, ca);
        Pki.issue(ca, Pki.Role.CONTROLLER, "elsewhere", List.of("db.example.internal"), List.of("10.9.9.9"), d, ca);
        Instant now = Instant.now();
        Pki.issue(
                ca,
                Pki.Role.AGENT,
                "expired",
                List.of(),
                List.of(),
                now.minus(Duration.ofDays(3)),
                now.minus(Duration.ofDays(1)),
                ca);
        Pki.issue(otherCa, Pki.Role.AGENT, "rogue-agent", List.of(), List.of(), d, otherCa);
        Pki.issue(otherCa, Pki.Role.CONTROLLER, "rogue-controller", List.of(), List.of(), d, otherCa);
    }

    @AfterEach
    void close() throws InterruptedException {
        for (ManagedChannel c : channels) {
            c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        for (Server s : servers) {
            s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    ServerServiceDefinition service() {
        return ServerServiceDefinition.builder("lifeboat.test.Echo")
                .addMethod(WHO_AM_I, ServerCalls.asyncUnaryCall((req, out) -> {
                    handled.incrementAndGet();
                    MutualTls.PeerIdentity peer = MutualTls.PeerIdentity.current();
                    out.onNext(peer == null ? "anonymous" : peer.commonName() + "/" + peer.role());
                    out.onCompleted();
                }))
                .build();
    }

    /** The production setup: mutual-TLS credentials and the identity interceptor. */
    int mtlsServer(TlsFiles files) throws IOException {
        return start(MutualTls.serverCredentials(files), true);
    }

    int start(ServerCredentials creds, boolean withIdentity) throws IOException {
        ServerServiceDefinition svc =
                withIdentity ? ServerInterceptors.intercept(service(), MutualTls.identityInterceptor()) : service();
        Server s = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), creds)
                .addService(svc)
                .build()
                .start();
        servers.add(s);
        return s.getPort();
    }

    String call(int port, ChannelCredentials creds) {
        ManagedChannel ch =
                Grpc.newChannelBuilderForAddress("localhost", port, creds).build();
        channels.add(ch);
        return ClientCalls.blockingUnaryCall(
                ch, WHO_AM_I, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), "hi");
    }

    @Test
    void clientsWithCertificatesFromTheSameCaGetThroughAndTheServerKnowsWhoTheyAre() throws IOException {
        int port = mtlsServer(TlsFiles.inDir(ca, "controller"));
        assertThat(call(port, MutualTls.channelCredentials(TlsFiles.inDir(ca, "agent-eu"))))
                .isEqualTo("agent-eu/AGENT");
        assertThat(call(port, MutualTls.channelCredentials(TlsFiles.inDir(ca, "ops"))))
                .isEqualTo("ops/CLIENT");
        assertThat(handled).hasValue(2);
    }

    @Test
    void aClientWithACertificateFromAnotherCaIsRefused() throws IOException {
        int port = mtlsServer(TlsFiles.inDir(ca, "controller"));
        // trusts our CA (so it would accept the server) but presents the other CA's certificate
        ChannelCredentials rogue = TlsChannelCredentials.newBuilder()
                .keyManager(
                        otherCa.resolve("rogue-agent.crt").toFile(),
                        otherCa.resolve("rogue-agent.key").toFile())
                .trustManager(ca.resolve("ca.crt").toFile())
                .build();
        assertThatThrownBy(() -> call(port, rogue))
                .isInstanceOf(StatusRuntimeException.class)
                .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
                .isEqualTo(Status.Code.UNAVAILABLE);
        assertThat(handled).hasValue(0);
    }

    @Test
    void aClientWithoutACertificateIsRefused() throws IOException {
        int port = mtlsServer(TlsFiles.inDir(ca, "controller"));
        ChannelCredentials noCert = TlsChannelCredentials.newBuilder()
                .trustManager(ca.resolve("ca.crt").toFile())
                .build();
        assertThatThrownBy(() -> call(port, noCert))
                .isInstanceOf(StatusRuntimeException.class)
                .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
                .isEqualTo(Status.Code.UNAVAILABLE);
        assertThatThrownBy(() -> call(port, InsecureChannelCredentials.create()))
                .isInstanceOf(StatusRuntimeException.class);
        assertThat(handled).hasValue(0);
    }

    @Test
    void anExpiredClientCertificateIsRefusedByTheServerAndByCheckBeforeDialling() throws IOException {
        int port = mtlsServer(TlsFiles.inDir(ca, "controller"));
        assertThatThrownBy(() -> MutualTls.channelCredentials(TlsFiles.inDir(ca, "expired")))
                .isInstanceOf(PkiException.class)
                .hasMessageContaining("expired on");
        ChannelCredentials expired = TlsChannelCredentials.newBuilder()
                .keyManager(
                        ca.resolve("expired.crt").toFile(),
                        ca.resolve("expired.key").toFile())
                .trustManager(ca.resolve("ca.crt").toFile())
                .build();
        assertThatThrownBy(() -> call(port, expired)).isInstanceOf(StatusRuntimeException.class);
        assertThat(handled).hasValue(0);
    }

    /**
     * Servers that ask for no client certificate at all, so only the client can refuse: it accepts one whose
     * certificate
     * our CA signed for the dialled name, and refuses another CA's, one for another host, and a client-only
     * certificate.
     */
    @Test
    void theClientRefusesServersItCannotTrust() throws IOException {
        ChannelCredentials agent = MutualTls.channelCredentials(TlsFiles.inDir(ca, "agent-eu"));
        int good = start(
                TlsServerCredentials.create(
                        ca.resolve("controller.crt").toFile(),
                        ca.resolve("controller.key").toFile()),
                false);
        assertThat(call(good, agent)).isEqualTo("anonymous");
        assertThat(handled).hasValue(1);

        for (Path[] certAndKey : List.of(
                new Path[] {otherCa.resolve("rogue-controller.crt"), otherCa.resolve("rogue-controller.key")
                }, // another CA
                new Path[] {ca.resolve("elsewhere.crt"), ca.resolve("elsewhere.key")
                }, // our CA, but for db.example.internal
                new Path[] {ca.resolve("ops.crt"), ca.resolve("ops.key")})) { // our CA, but a client-only certificate
            int port = start(TlsServerCredentials.create(certAndKey[0].toFile(), certAndKey[1].toFile()), false);
            assertThatThrownBy(() -> call(port, agent))
                    .as(certAndKey[0].toString())
                    .isInstanceOf(StatusRuntimeException.class)
                    .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
                    .isEqualTo(Status.Code.UNAVAILABLE);
        }
        assertThat(handled).hasValue(1);
    }

    @Test
    void aClientThatWantsTheControllerRefusesAnAgentsCertificateForTheSameHost() throws IOException {
        ChannelCredentials wantsController =
                MutualTls.channelCredentials(TlsFiles.inDir(ca, "ops"), Pki.Role.CONTROLLER);
        int controller = start(
                TlsServerCredentials.create(
                        ca.resolve("controller.crt").toFile(),
                        ca.resolve("controller.key").toFile()),
                false);
        assertThat(call(controller, wantsController)).isEqualTo("anonymous");
        int agent = start(
                TlsServerCredentials.create(
                        ca.resolve("agent-eu.crt").toFile(),
                        ca.resolve("agent-eu.key").toFile()),
                false);
        assertThatThrownBy(() -> call(agent, wantsController))
                .isInstanceOf(StatusRuntimeException.class)
                .extracting(e -> ((StatusRuntimeException) e).getStatus().getCode())
                .isEqualTo(Status.Code.UNAVAILABLE);
        // the host-name check still applies
        int elsewhere = start(
                TlsServerCredentials.create(
                        ca.resolve("elsewhere.crt").toFile(),
                        ca.resolve("elsewhere.key").toFile()),
                false);
        assertThatThrownBy(() -> call(elsewhere, wantsController)).isInstanceOf(StatusRuntimeException.class);
        assertThat(handled).hasValue(1);
    }

    @Test
    void theIdentityInterceptorRejectsCallsWithoutAVerifiedCertificate() throws IOException {
        // plaintext server: the interceptor must not let an unauthenticated call through
        int port = start(InsecureServerCredentials.create(), true);
        assertThatThrownBy(() -> call(port, InsecureChannelCredentials.create()))
                .isInstanceOf(StatusRuntimeException.class)
                .satisfies(e -> {
                    Status s = ((StatusRuntimeException) e).getStatus();
                    assertThat(s.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
                    assertThat(s.getDescription()).contains("not TLS");
                });
        assertThat(handled).hasValue(0);
    }

    @Test
    void serverCredentialsCheckTheirFilesFirst() {
        assertThatThrownBy(() -> MutualTls.serverCredentials(new TlsFiles(
                        ca.resolve("ca.crt"),
                        otherCa.resolve("rogue-controller.crt"),
                        otherCa.resolve("rogue-controller.key"))))
                .isInstanceOf(PkiException.class)
                .hasMessageContaining("was not signed by the CA");
        assertThatThrownBy(() -> MutualTls.serverCredentials(TlsFiles.inDir(ca, "missing")))
                .isInstanceOf(PkiException.class)
                .hasMessageContaining("missing.crt does not exist");
    }

    static final class Utf8 implements MethodDescriptor.Marshaller<String> {
        @Override
        public InputStream stream(String value) {
            return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public String parse(InputStream stream) {
            try {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
