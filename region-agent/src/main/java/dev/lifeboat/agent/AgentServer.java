package dev.lifeboat.agent;

import dev.lifeboat.common.HostPort;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The agent's gRPC server (Netty) on {@code listen}: the Jobs API, plus any further services given. Credentials come
 * from the caller: mutual TLS in production, {@code InsecureServerCredentials} only for {@code insecure-dev}.
 */
public final class AgentServer implements AutoCloseable {
    private final Server server;
    private final HostPort listen;

    public AgentServer(HostPort listen, ServerCredentials credentials, JobManager jobs, BindableService... more) {
        this.listen = listen;
        NettyServerBuilder b = NettyServerBuilder.forAddress(listen.socketAddress(), credentials)
                .addService(new JobsService(jobs))
                .intercept(new CallerCheck(!(credentials instanceof io.grpc.InsecureServerCredentials)))
                // watchers of long jobs stay connected for hours: keep idle connections alive through middleboxes
                .keepAliveTime(60, TimeUnit.SECONDS)
                .permitKeepAliveTime(20, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true);
        for (BindableService s : List.of(more)) {
            b.addService(s);
        }
        this.server = b.build();
    }

    /**
     * Who may drive this agent: the controller and operators' client certificates. Other agents' certificates come from
     * the same CA but are refused, so one compromised host cannot expire or restore another's backups.
     */
    static final class CallerCheck implements io.grpc.ServerInterceptor {
        private final boolean tls;

        CallerCheck(boolean tls) {
            this.tls = tls;
        }

        @Override
        public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(
                io.grpc.ServerCall<Q, R> call, io.grpc.Metadata headers, io.grpc.ServerCallHandler<Q, R> next) {
            if (tls) {
                javax.net.ssl.SSLSession session = call.getAttributes().get(io.grpc.Grpc.TRANSPORT_ATTR_SSL_SESSION);
                dev.lifeboat.security.MutualTls.PeerIdentity peer;
                try {
                    peer = session == null ? null : dev.lifeboat.security.MutualTls.peerOf(session);
                } catch (RuntimeException e) {
                    peer = null;
                }
                if (peer == null || peer.role() == dev.lifeboat.security.Pki.Role.AGENT) {
                    call.close(
                            io.grpc.Status.PERMISSION_DENIED.withDescription(
                                    peer == null
                                            ? "no client certificate"
                                            : "certificate " + peer.commonName()
                                                    + " belongs to an agent; agents may not drive other agents"),
                            new io.grpc.Metadata());
                    return new io.grpc.ServerCall.Listener<>() {};
                }
            }
            return next.startCall(call, headers);
        }
    }

    /**
     * Mutual TLS from the agent config's PEM files: the server presents the agent's certificate, and every client must
     * present one signed by the configured CA.
     */
    public static ServerCredentials mutualTls(AgentConfig.Tls tls) {
        return dev.lifeboat.security.MutualTls.serverCredentials(
                new dev.lifeboat.security.TlsFiles(tls.ca(), tls.cert(), tls.key()));
    }

    /** The credentials the agent config asks for: mutual TLS, or plaintext with {@code insecure-dev} (loopback only). */
    public static ServerCredentials credentials(AgentConfig config) {
        return config.insecureDev() ? io.grpc.InsecureServerCredentials.create() : mutualTls(config.tls());
    }

    public AgentServer start() throws IOException {
        try {
            server.start();
        } catch (IOException e) {
            throw new IOException(
                    "cannot listen on " + listen + " for the Jobs API: " + e.getMessage()
                            + " (is another agent running there? change listen in the agent config)",
                    e);
        }
        return this;
    }

    /** The port actually bound (useful when {@code listen} asked for port 0). */
    public int port() {
        return server.getPort();
    }

    @Override
    public void close() {
        server.shutdown();
        try {
            if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
                server.shutdownNow();
                server.awaitTermination(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
