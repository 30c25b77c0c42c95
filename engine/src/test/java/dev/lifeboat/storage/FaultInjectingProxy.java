package dev.lifeboat.storage;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP/1.1 proxy for tests, placed between a store client and its test server, that injects faults on a schedule.
 * Each request is read whole (head and body, by {@code Content-Length} or chunked framing), matched against the rules,
 * and then either answered by the proxy (a status), or forwarded byte for byte to the server on a fresh connection (the
 * request line, the body and every header, {@code Range} and {@code Host} included, unchanged; only the hop-by-hop
 * {@code Connection}, {@code Keep-Alive} and {@code Expect} headers are replaced) with the response relayed back, late
 * or
 * cut off. Every connection carries one request: the proxy adds {@code Connection: close} both ways.
 */
public final class FaultInjectingProxy implements Closeable {

    /** What happens to a request a rule matches. */
    public sealed interface Fault permits Status, Delay, DropMidResponse, Hang {}

    /** Answer with this status (and a short body) without forwarding: the server never sees the request. */
    public record Status(int code) implements Fault {}

    /** Forward, then hold the response this long before relaying it. */
    public record Delay(Duration delay) implements Fault {}

    /**
     * Forward (so the server does execute the request), relay the response head and half of its body, then close the
     * connection. A response without a body is not relayed at all.
     */
    public record DropMidResponse() implements Fault {}

    /** Read the request and never answer, until the client gives up and closes the connection. */
    public record Hang() implements Fault {}

    /** Matches requests whose method is {@code method} (null: any) and whose request target contains {@code
     * targetPart}. */
    private static final class Rule {
        final String method;
        final String targetPart;
        final Fault fault;
        final AtomicInteger remaining;

        Rule(String method, String targetPart, Fault fault, int times) {
            this.method = method;
            this.targetPart = targetPart;
            this.fault = fault;
            this.remaining = new AtomicInteger(times);
        }

        boolean take(String m, String target) {
            if ((method != null && !method.equals(m)) || !target.contains(targetPart)) {
                return false;
            }
            return remaining.getAndUpdate(n -> n > 0 ? n - 1 : 0) > 0;
        }
    }

    private final InetSocketAddress upstream;
    private final ServerSocket server;
    private final List<Rule> rules = new CopyOnWriteArrayList<>();
    private final List<String> seen = new CopyOnWriteArrayList<>();
    private final List<String> heads = new CopyOnWriteArrayList<>();
    private final AtomicInteger injected = new AtomicInteger();
    private volatile boolean closed;
    private volatile String requiredAccessKey;
    private final AtomicInteger refused = new AtomicInteger();

    /** Starts a proxy on a free loopback port in front of {@code upstream} (an {@code http://host:port} URL). */
    public FaultInjectingProxy(String upstream) throws IOException {
        URI u = URI.create(upstream);
        this.upstream = new InetSocketAddress(u.getHost(), u.getPort());
        this.server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        Thread.ofPlatform()
                .daemon()
                .name("fault-proxy-" + server.getLocalPort())
                .start(this::acceptLoop);
    }

    /** {@code http://127.0.0.1:port}: point the client here instead of at the server. */
    public String endpoint() {
        return "http://127.0.0.1:" + server.getLocalPort();
    }

    /** Injects {@code fault} into the next {@code times} requests that match (method null: any method). */
    public FaultInjectingProxy inject(String method, String targetPart, Fault fault, int times) {
        rules.add(new Rule(method, targetPart, fault, times));
        return this;
    }

    /** Injects {@code fault} into every matching request from now on. */
    public FaultInjectingProxy always(String method, String targetPart, Fault fault) {
        return inject(method, targetPart, fault, Integer.MAX_VALUE);
    }

    /**
     * Answers 403 AccessDenied (S3's XML error) to every request not signed (SigV4) with access key {@code id}: a
     * credential check in front of a test server that takes any key.
     */
    public FaultInjectingProxy requireAccessKey(String id) {
        this.requiredAccessKey = id;
        return this;
    }

    /** Requests refused by {@link #requireAccessKey}. */
    public int refused() {
        return refused.get();
    }

    /** Removes every rule: requests pass unchanged. */
    public void clear() {
        rules.clear();
    }

    /** How many faults were injected so far. */
    public int injected() {
        return injected.get();
    }

    /** The request heads seen so far (request line and headers), in arrival order. */
    public List<String> requestHeads() {
        return new ArrayList<>(heads);
    }

    /** The request lines seen so far ("METHOD target"), in arrival order. */
    public List<String> requests() {
        return new ArrayList<>(seen);
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket client = server.accept();
                Thread.ofVirtual().start(() -> handle(client));
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("fault proxy: accept failed: " + e);
                }
            }
        }
    }

    private void handle(Socket client) {
        try (client) {
            InputStream in = client.getInputStream();
            OutputStream out = client.getOutputStream();
            byte[] head = readHead(in);
            if (head == null) {
                return;
            }
            List<String> lines = headLines(head);
            String[] requestLine = lines.get(0).split(" ", 3);
            String method = requestLine[0];
            String target = requestLine.length > 1 ? requestLine[1] : "";
            seen.add(method + " " + target);
            heads.add(String.join("\n", lines));
            if ("100-continue".equalsIgnoreCase(header(lines, "expect"))) {
                out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
            }
            byte[] body = readBody(in, lines);
            String key = requiredAccessKey;
            String auth = header(lines, "authorization");
            if (key != null && (auth == null || !auth.contains("Credential=" + key + "/"))) {
                refused.incrementAndGet();
                byte[] xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
                                + "<Message>Access Denied: not signed with this endpoint's key</Message></Error>")
                        .getBytes(StandardCharsets.UTF_8);
                out.write(("HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: " + xml.length
                                + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
                out.write(xml);
                out.flush();
                return;
            }
            Fault fault = null;
            for (Rule r : rules) {
                if (r.take(method, target)) {
                    fault = r.fault;
                    injected.incrementAndGet();
                    break;
                }
            }
            switch (fault) {
                case Status s -> {
                    byte[] text = ("injected fault: HTTP " + s.code()).getBytes(StandardCharsets.UTF_8);
                    out.write(("HTTP/1.1 " + s.code() + " Injected\r\nContent-Type: text/plain\r\nContent-Length: "
                                    + text.length + "\r\nConnection: close\r\n\r\n")
                            .getBytes(StandardCharsets.ISO_8859_1));
                    out.write(text);
                    out.flush();
                }
                case Hang h -> {
                    // until the client times out and closes (or the proxy is closed)
                    while (in.read() >= 0) {
                        // discard
                    }
                }
                case null -> forward(lines, body, out, null);
                default -> forward(lines, body, out, fault);
            }
        } catch (IOException e) {
            // the client went away; nothing to do
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void forward(List<String> lines, byte[] body, OutputStream out, Fault fault)
            throws IOException, InterruptedException {
        StringBuilder h = new StringBuilder(lines.get(0)).append("\r\n");
        for (String line : lines.subList(1, lines.size())) {
            String name =
                    line.substring(0, Math.max(0, line.indexOf(':'))).trim().toLowerCase(Locale.ROOT);
            if (!name.equals("connection") && !name.equals("keep-alive") && !name.equals("expect")) {
                h.append(line).append("\r\n");
            }
        }
        h.append("Connection: close\r\n\r\n");
        try (Socket up = new Socket()) {
            up.connect(upstream, 5000);
            OutputStream upOut = up.getOutputStream();
            upOut.write(h.toString().getBytes(StandardCharsets.ISO_8859_1));
            upOut.write(body);
            upOut.flush();
            InputStream upIn = up.getInputStream();
            byte[] responseHead = readHead(upIn);
            if (responseHead == null) {
                return;
            }
            List<String> rl = headLines(responseHead);
            StringBuilder r = new StringBuilder(rl.get(0)).append("\r\n");
            for (String line : rl.subList(1, rl.size())) {
                String name =
                        line.substring(0, Math.max(0, line.indexOf(':'))).trim().toLowerCase(Locale.ROOT);
                if (!name.equals("connection") && !name.equals("keep-alive")) {
                    r.append(line).append("\r\n");
                }
            }
            r.append("Connection: close\r\n\r\n");
            // the server closes after its response (Connection: close), so the rest of the stream is exactly its body
            byte[] rest = upIn.readAllBytes();
            if (fault instanceof Delay d) {
                Thread.sleep(d.delay());
            }
            if (fault instanceof DropMidResponse) {
                if (rest.length > 0) {
                    out.write(r.toString().getBytes(StandardCharsets.ISO_8859_1));
                    out.write(rest, 0, rest.length / 2);
                    out.flush();
                }
                return; // the connection is closed without the rest
            }
            out.write(r.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.write(rest);
            out.flush();
        }
    }

    /** Reads up to and including the blank line that ends a head; null at a clean end of stream. */
    private static byte[] readHead(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int state = 0;
        while (state < 4) {
            int c = in.read();
            if (c < 0) {
                if (b.size() == 0) {
                    return null;
                }
                throw new EOFException("connection closed inside an HTTP head");
            }
            b.write(c);
            state = switch (state) {
                case 0, 2 -> c == '\r' ? state + 1 : 0;
                case 1, 3 -> c == '\n' ? state + 1 : (c == '\r' ? 1 : 0);
                default -> 0;
            };
        }
        return b.toByteArray();
    }

    private static List<String> headLines(byte[] head) {
        String s = new String(head, StandardCharsets.ISO_8859_1);
        List<String> lines = new ArrayList<>(List.of(s.split("\r\n")));
        lines.removeIf(String::isEmpty);
        return lines;
    }

    private static String header(List<String> lines, String name) {
        for (String line : lines.subList(1, lines.size())) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
                return line.substring(colon + 1).trim();
            }
        }
        return null;
    }

    /** The request body exactly as sent: Content-Length bytes, or the chunked encoding up to and including its end. */
    private static byte[] readBody(InputStream in, List<String> lines) throws IOException {
        String te = header(lines, "transfer-encoding");
        if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            while (true) {
                String sizeLine = readLine(in, b);
                int semi = sizeLine.indexOf(';');
                long size = Long.parseLong((semi >= 0 ? sizeLine.substring(0, semi) : sizeLine).trim(), 16);
                if (size == 0) {
                    // trailers, then the blank line
                    while (!readLine(in, b).isEmpty()) {
                        // keep
                    }
                    return b.toByteArray();
                }
                b.write(in.readNBytes((int) size));
                readLine(in, b);
            }
        }
        String cl = header(lines, "content-length");
        if (cl == null) {
            return new byte[0];
        }
        int n = Integer.parseInt(cl);
        byte[] body = in.readNBytes(n);
        if (body.length != n) {
            throw new EOFException("request body cut short");
        }
        return body;
    }

    private static String readLine(InputStream in, ByteArrayOutputStream copy) throws IOException {
        StringBuilder s = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            copy.write(c);
            if (c == '\n') {
                break;
            }
            if (c != '\r') {
                s.append((char) c);
            }
        }
        if (c < 0) {
            throw new EOFException("connection closed inside a chunked body");
        }
        return s.toString();
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
    }
}
