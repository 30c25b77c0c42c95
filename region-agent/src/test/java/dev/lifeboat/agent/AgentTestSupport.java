package dev.lifeboat.agent;

import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobsGrpc;
import dev.lifeboat.proto.v1.WatchRequest;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/** Helpers for agent tests: a plaintext loopback channel, event collection, waiting. */
final class AgentTestSupport {
    private AgentTestSupport() {}

    static ManagedChannel channel(int port) {
        return Grpc.newChannelBuilder("127.0.0.1:" + port, InsecureChannelCredentials.create())
                .build();
    }

    /** A plaintext loopback channel for try-with-resources. */
    record Conn(ManagedChannel ch) implements AutoCloseable {
        Conn(int port) {
            this(channel(port));
        }

        @Override
        public void close() {
            ch.shutdownNow();
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Watches a job over gRPC until it ends (or the deadline passes), returning every event received. */
    static List<JobEvent> watchToEnd(ManagedChannel ch, String jobId, Duration deadline) {
        List<JobEvent> out = new ArrayList<>();
        Iterator<JobEvent> it = JobsGrpc.newBlockingStub(ch)
                .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
                .watch(WatchRequest.newBuilder().setJobId(jobId).build());
        while (it.hasNext()) {
            out.add(it.next());
        }
        return out;
    }

    /** Collects a job's events in a background watch; {@link Watcher#await} waits for one that matches. */
    static final class Watcher implements AutoCloseable {
        final List<JobEvent> events = new CopyOnWriteArrayList<>();
        private final Thread thread;
        private volatile Throwable failure;

        Watcher(ManagedChannel ch, String jobId) {
            thread = Thread.ofVirtual().start(() -> {
                try {
                    Iterator<JobEvent> it = JobsGrpc.newBlockingStub(ch)
                            .watch(WatchRequest.newBuilder().setJobId(jobId).build());
                    while (it.hasNext()) {
                        events.add(it.next());
                    }
                } catch (Throwable t) {
                    failure = t;
                }
            });
        }

        JobEvent await(Predicate<JobEvent> p, Duration timeout) throws InterruptedException {
            long end = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < end) {
                for (JobEvent e : events) {
                    if (p.test(e)) {
                        return e;
                    }
                }
                if (!thread.isAlive()) {
                    break;
                }
                Thread.sleep(5);
            }
            for (JobEvent e : events) {
                if (p.test(e)) {
                    return e;
                }
            }
            throw new AssertionError("no matching event within " + timeout + "; got " + events
                    + (failure == null ? "" : "; watch failed: " + failure));
        }

        @Override
        public void close() {
            thread.interrupt();
        }
    }

    static void waitFor(BooleanSupplier condition, Duration timeout, String what) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < end) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("timed out after " + timeout + " waiting for " + what);
    }

    static boolean isCopyProgress(JobEvent e) {
        return e.getKind() == JobEvent.Kind.PROGRESS && e.getPhase().equals("backup/copy");
    }

    /** Sequence numbers 1..n without gaps, exactly one end event, and it is the last. */
    static void assertWellFormed(List<JobEvent> events) {
        for (int i = 0; i < events.size(); i++) {
            if (events.get(i).getSequence() != i + 1) {
                throw new AssertionError(
                        "event " + i + " has sequence " + events.get(i).getSequence() + ": " + events);
            }
        }
        long ends =
                events.stream().filter(e -> JobManager.isTerminal(e.getKind())).count();
        if (ends != 1 || !JobManager.isTerminal(events.getLast().getKind())) {
            throw new AssertionError("expected exactly one end event, last: " + events);
        }
    }
}
