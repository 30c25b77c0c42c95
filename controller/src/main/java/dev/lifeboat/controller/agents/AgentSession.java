package dev.lifeboat.controller.agents;

import dev.lifeboat.proto.v1.ControllerMessage;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** One connected agent's stream. Sends are serialized: a gRPC stream observer is not thread-safe. */
public final class AgentSession {
    final String agentId;
    final String region;
    final List<String> databases;
    final Instant connectedAt = Instant.now();
    private final StreamObserver<ControllerMessage> out;
    volatile Instant lastHeartbeat = Instant.now();
    volatile Set<String> runningJobs = Set.of();
    volatile long heartbeats;
    /** Consecutive heartbeats that did not list a job the controller thinks runs here. */
    final Map<String, Integer> misses = new ConcurrentHashMap<>();

    private volatile boolean closed;

    AgentSession(String agentId, String region, List<String> databases, StreamObserver<ControllerMessage> out) {
        this.agentId = agentId;
        this.region = region;
        this.databases = List.copyOf(databases);
        this.out = out;
    }

    public String agentId() {
        return agentId;
    }

    public String region() {
        return region;
    }

    public List<String> databases() {
        return databases;
    }

    public long heartbeats() {
        return heartbeats;
    }

    public Instant lastHeartbeat() {
        return lastHeartbeat;
    }

    public boolean isClosed() {
        return closed;
    }

    synchronized void send(ControllerMessage m) {
        if (closed) {
            throw new IllegalStateException("agent " + agentId + " disconnected");
        }
        out.onNext(m);
    }

    /** Ends the stream from the controller's side (replaced by a newer connection, or heartbeats stopped). */
    synchronized void close(String why) {
        if (!closed) {
            closed = true;
            try {
                out.onError(Status.UNAVAILABLE.withDescription(why).asRuntimeException());
            } catch (RuntimeException ignored) {
                // the stream is already gone
            }
        }
    }

    void markClosed() {
        closed = true;
    }
}
