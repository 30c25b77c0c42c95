package dev.lifeboat.agent;

import dev.lifeboat.common.HostPort;
import dev.lifeboat.security.MutualTls;
import dev.lifeboat.security.Pki;
import dev.lifeboat.security.TlsFiles;
import io.grpc.BindableService;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSession;

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
                .intercept(new CallerCheck(!(credentials instanceof InsecureServerCredentials)))
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
    static final class CallerCheck implements ServerInterceptor {
        private final boolean tls;

        CallerCheck(boolean tls) {
            this.tls = tls;
        }

        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(
                ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            if (tls) {
                SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
                MutualTls.PeerIdentity peer;
                try {
                    peer = session == null ? null : MutualTls.peerOf(session);
                } catch (RuntimeException e) {
                    peer = null;
                }
                if (peer == null || peer.role() == Pki.Role.AGENT) {
                    call.close(
                            Status.PERMISSION_DENIED.withDescription(
                                    peer == null
                                            ? "no client certificate"
                                            : "certificate " + peer.commonName()
                                                    + " belongs to an agent; agents may not drive other agents"),
                            new Metadata());
                    return new ServerCall.Listener<>() {};
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
        return MutualTls.serverCredentials(new TlsFiles(tls.ca(), tls.cert(), tls.key()));
    }

    /** The credentials the agent config asks for: mutual TLS, or plaintext with {@code insecure-dev} (loopback only).
     * */
    public static ServerCredentials credentials(AgentConfig config) {
        return config.insecureDev() ? InsecureServerCredentials.create() : mutualTls(config.tls());
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
