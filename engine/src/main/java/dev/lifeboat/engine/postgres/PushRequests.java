package dev.lifeboat.engine.postgres;

import dev.lifeboat.repository.WalArchive;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pusher's door for archive_command: the launcher script (bash, no JVM) connects to a loopback port, asks for
 * one WAL file by name and the fingerprint it sees, and gets {@code OK} only once that very file is durable in the
 * repository, or {@code ERR reason} (the launcher then runs the JVM path, which reports the error properly).
 * <p>
 * The port and a random token sit in {@code push.port} in the spool directory (mode 0600, so only the cluster's own
 * user can ask). A request only names a file in the pusher's own {@code pg_wal}; the pusher reads it itself, so a
 * request can make it archive a file PostgreSQL wrote, never bytes of the requester's choosing.
 * <pre>
 * request:  PUSH &lt;token&gt; &lt;WAL file name&gt; &lt;device:inode:size:mtime&gt;\n
 * answer:   OK\n | ERR &lt;one line&gt;\n
 * </pre>
 */
final class PushRequests implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PushRequests.class);
    static final String PORT_FILE = "push.port";
    private static final int MAX_LINE = 512;

    /** Archives one file of the pusher's pg_wal and returns the fingerprint of the bytes it made durable. */
    interface Handler {
        String push(String name) throws Exception;
    }

    private final ServerSocket server;
    private final Path portFile;
    private final byte[] token;
    private final Handler handler;
    private final Runnable onRequest;
    private final Thread acceptor;

    private PushRequests(ServerSocket server, Path portFile, byte[] token, Handler handler, Runnable onRequest) {
        this.server = server;
        this.portFile = portFile;
        this.token = token;
        this.handler = handler;
        this.onRequest = onRequest;
        this.acceptor = Thread.ofVirtual().name("wal-push-requests").unstarted(this::acceptLoop);
    }

    /**
     * Opens the port, publishes it in {@code spool/push.port} and serves requests until closed.
     *
     * @param onRequest called for every request (the pusher counts it as work, so it stays up while asked)
     */
    static PushRequests open(Path spool, Handler handler, Runnable onRequest) throws IOException {
        ServerSocket server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        byte[] token = new byte[16];
        new SecureRandom().nextBytes(token);
        Path portFile = spool.resolve(PORT_FILE);
        Path tmp = spool.resolve("." + PORT_FILE + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, server.getLocalPort() + " " + HexFormat.of().formatHex(token) + "\n");
        Files.move(tmp, portFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        PushRequests r = new PushRequests(server, portFile, token, handler, onRequest);
        r.acceptor.start();
        return r;
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                Thread.ofVirtual().name("wal-push-request").start(() -> serve(s));
            } catch (SocketException closed) {
                return;
            } catch (IOException e) {
                log.warn("accepting a wal-push request failed: {}", e.getMessage());
            }
        }
    }

    private void serve(Socket s) {
        try (s;
                BufferedReader in =
                        new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                OutputStream out = s.getOutputStream()) {
            s.setSoTimeout(10_000); // the request line comes at once; only the answer may take long
            String answer = answer(readLine(in));
            out.write((answer + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            log.debug("wal-push request connection: {}", e.getMessage());
        }
    }

    private static String readLine(BufferedReader in) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int c = in.read(); c != -1 && c != '\n'; c = in.read()) {
            if (b.length() >= MAX_LINE) {
                return "";
            }
            b.append((char) c);
        }
        return b.toString();
    }

    String answer(String line) {
        String[] f = line.strip().split(" ");
        if (f.length != 4 || !f[0].equals("PUSH")) {
            return "ERR expected: PUSH TOKEN NAME FINGERPRINT";
        }
        if (!MessageDigest.isEqual(f[1].getBytes(StandardCharsets.US_ASCII), hex(token))) {
            return "ERR wrong token";
        }
        String name = f[2];
        if (!WalArchive.isWalFileName(name)) {
            return "ERR not a WAL file name: " + name;
        }
        onRequest.run();
        try {
            // the pusher's file must be the caller's: the same device, inode, size and mtime
            for (int attempt = 1; attempt <= 3; attempt++) {
                String archived = handler.push(name);
                if (archived.equals(f[3])) {
                    return "OK";
                }
            }
            return "ERR " + name + " in this pusher's pg_wal is not the file archive_command named";
        } catch (Exception e) {
            return "ERR " + String.valueOf(e.getMessage()).replace('\n', ' ');
        } finally {
            onRequest.run();
        }
    }

    private static byte[] hex(byte[] token) {
        return HexFormat.of().formatHex(token).getBytes(StandardCharsets.US_ASCII);
    }

    @Override
    public void close() throws IOException {
        try {
            Files.deleteIfExists(portFile);
        } finally {
            server.close();
        }
    }
}
