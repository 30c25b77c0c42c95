package dev.lifeboat.controller.alerts;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** A real HTTP server on loopback that records what it receives and answers from a script (then 200). */
final class WebhookReceiver implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();

    /** What arrived, and the status it was answered with. */
    record Request(long nanos, String path, Map<String, List<String>> headers, String body, int status) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + body, e);
            }
        }

        String header(String name) {
            return headers.entrySet().stream()
                    .filter(e -> e.getKey().equalsIgnoreCase(name))
                    .findFirst()
                    .map(e -> e.getValue().getFirst())
                    .orElse(null);
        }
    }

    record Reply(int status, Map<String, String> headers, long delayMillis) {
        static Reply of(int status) {
            return new Reply(status, Map.of(), 0);
        }
    }

    private final HttpServer server;
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final ConcurrentLinkedDeque<Reply> script = new ConcurrentLinkedDeque<>();
    private volatile Reply fallback = Reply.of(200);
    final List<Request> requests = new CopyOnWriteArrayList<>();

    WebhookReceiver() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(pool);
        server.createContext("/", ex -> {
            try (ex) {
                String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
                Reply r;
                synchronized (requests) {
                    r = script.pollFirst();
                    if (r == null) {
                        r = fallback;
                    }
                    requests.add(new Request(
                            System.nanoTime(),
                            ex.getRequestURI().getPath(),
                            Map.copyOf(ex.getRequestHeaders()),
                            body,
                            r.status()));
                }
                if (r.delayMillis() > 0) {
                    try {
                        Thread.sleep(r.delayMillis());
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                r.headers().forEach((k, v) -> ex.getResponseHeaders().add(k, v));
                byte[] out = ("{\"status\":" + r.status() + "}").getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(r.status(), out.length);
                ex.getResponseBody().write(out);
            }
        });
        server.start();
    }

    /** The next answers, in order; after them {@link #answerAlways}'s (200 unless changed). */
    WebhookReceiver then(Reply... replies) {
        script.addAll(List.of(replies));
        return this;
    }

    WebhookReceiver answerAlways(Reply reply) {
        fallback = reply;
        return this;
    }

    URI url(String path) {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path);
    }

    List<Request> at(String path) {
        return requests.stream().filter(r -> r.path().equals(path)).toList();
    }

    @Override
    public void close() {
        server.stop(0);
        pool.shutdownNow();
    }
}
