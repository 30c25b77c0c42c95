package dev.lifeboat.cli.commands.jobs;

import dev.lifeboat.cli.ExitCodeException;
import dev.lifeboat.common.HostPort;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Option;

/** Which agent the {@code jobs} subcommands talk to, and how (mutual TLS, or plaintext on loopback). */
final class AgentOptions {
    @Option(names = "--agent", paramLabel = "HOST:PORT", description = "The agent's Jobs API (env LIFEBOAT_AGENT).")
    String agent;

    @Option(
            names = "--tls-ca",
            paramLabel = "FILE",
            description = "CA certificate (PEM) that signed the agent's certificate.")
    Path ca;

    @Option(
            names = "--tls-cert",
            paramLabel = "FILE",
            description = "Client certificate (PEM), e.g. from 'lifeboat pki issue --role client'.")
    Path cert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "The client certificate's private key (PEM).")
    Path key;

    @Option(
            names = "--insecure-dev",
            description = "No TLS (development only; refused unless the agent is on loopback).")
    boolean insecureDev;

    HostPort address() {
        if (agent == null || agent.isBlank()) {
            throw new IllegalArgumentException("say which agent: pass --agent HOST:PORT or set LIFEBOAT_AGENT");
        }
        return HostPort.parse(agent, "--agent");
    }

    ManagedChannel open() {
        HostPort hp = address();
        ChannelCredentials creds;
        if (insecureDev) {
            if (!hp.isLoopback()) {
                throw new IllegalArgumentException("--insecure-dev is allowed only for an agent on loopback, not " + hp
                        + "; pass --tls-ca, --tls-cert and --tls-key");
            }
            creds = InsecureChannelCredentials.create();
        } else {
            if (ca == null || cert == null || key == null) {
                throw new IllegalArgumentException("pass --tls-ca, --tls-cert and --tls-key (a client certificate from "
                        + "'lifeboat pki issue --role client NAME'), or --insecure-dev for an agent on "
                        + "loopback");
            }
            try {
                creds = TlsChannelCredentials.newBuilder()
                        .keyManager(cert.toFile(), key.toFile())
                        .trustManager(ca.toFile())
                        .build();
            } catch (IOException | IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "cannot use the TLS files (" + cert + ", " + key + ", " + ca + "): " + e.getMessage());
            }
        }
        return Grpc.newChannelBuilder(hp.target(), creds).build();
    }

    /** One clear line for a failed call: which agent, and what it said. */
    RuntimeException failure(StatusRuntimeException e) {
        String what = e.getStatus().getDescription() == null
                ? e.getStatus().getCode().toString()
                : e.getStatus().getDescription();
        return switch (e.getStatus().getCode()) {
            case UNAVAILABLE -> new ExitCodeException(1, "cannot reach the agent at " + agent + ": " + what);
            case INVALID_ARGUMENT ->
                new ExitCodeException(2, "the agent at " + agent + " refused the request: " + what);
            case DEADLINE_EXCEEDED -> new ExitCodeException(1, "the agent at " + agent + " did not answer in time");
            default -> new ExitCodeException(1, "agent at " + agent + ": " + what);
        };
    }

    static void shutdown(ManagedChannel ch) {
        ch.shutdownNow();
        try {
            ch.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
