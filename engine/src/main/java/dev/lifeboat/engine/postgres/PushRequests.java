package dev.lifeboat.engine.postgres;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.crypto.CryptoProvider;
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
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pusher's door for archive_command: the launcher script (bash, no JVM) connects to a loopback port, asks for
 * one WAL file of its {@code pg_wal} by name and the fingerprint it sees, and gets {@code OK} only once that very file
 * is durable in the repository archive_command names; anything else (an error, no answer, a pusher that serves
 * another repository) sends the launcher to the JVM path, which reports the error properly.
 * <p>
 * Both sides prove themselves with secrets in {@code push.port} (mode 0600, so only the cluster's own user can read
 * it): the request carries the client token, the answer the server token, so neither another local process on a
 * stale port nor a request from another user is believed. Which repository a request means is the launcher's
 * settings key (a digest of its arguments, config file and environment); the pusher serves only keys a JVM run of
 * {@code wal-push} has bound to the repository and replication settings the pusher itself uses
 * ({@link #identity}). A request only names a file in the pusher's own {@code pg_wal} that PostgreSQL marked ready,
 * and the pusher reads it itself, so a request can make it archive a finished file PostgreSQL wrote, nothing else.
 * <pre>
 * PUSH &lt;client token&gt; &lt;settings key&gt; &lt;name&gt; &lt;device:inode:size:mtime&gt; &lt;pg_wal dir&gt;\n
 *   → ACK\n (at once), then OK &lt;server token&gt;\n | ERR &lt;one line&gt;\n
 * BIND &lt;client token&gt; &lt;settings key&gt; &lt;identity&gt;\n
 *   → OK &lt;server token&gt;\n | ERR &lt;one line&gt;\n
 * </pre>
 */
final class PushRequests implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PushRequests.class);
    static final String PORT_FILE = "push.port";
    private static final int MAX_LINE = 8192;

    /** Archives one file of the pusher's pg_wal and returns the fingerprint of the bytes it made durable. */
    interface Handler {
        String push(String name, String fingerprint) throws Exception;
    }

    /** What a request may be served for: the repository and replication settings as one string. */
    static String identity(Repository repo, Path replicationConfig) throws IOException {
        String replication = "none";
        if (replicationConfig != null) {
            replication = HexFormat.of().formatHex(sha256(Files.readAllBytes(replicationConfig)));
        }
        return repo.config().id() + ":" + replication;
    }

    private final ServerSocket server;
    private final Path portFile;
    private final String clientToken;
    private final String serverToken;
    private final String identity;
    private final Path walDir;
    private final Handler handler;
    private final Runnable onRequest;
    private final Runnable onForeign;
    private final Set<String> boundKeys = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    /** Removes push.port when the JVM is stopped by a signal, so the launcher does not dial a dead port. */
    private final Thread cleanup = new Thread(this::removePortFile);

    private PushRequests(
            ServerSocket server,
            Path portFile,
            String identity,
            Path walDir,
            Handler handler,
            Runnable onRequest,
            Runnable onForeign) {
        this.server = server;
        this.portFile = portFile;
        this.clientToken = randomHex();
        this.serverToken = randomHex();
        this.identity = identity;
        this.walDir = walDir;
        this.handler = handler;
        this.onRequest = onRequest;
        this.onForeign = onForeign;
        this.acceptor = Thread.ofVirtual().name("wal-push-requests").unstarted(this::acceptLoop);
    }

    /**
     * Opens the port, publishes it in {@code spool/push.port} and serves requests until closed.
     *
     * @param identity  {@link #identity} of the repository this pusher writes to
     * @param boundKey  a settings key already known to mean that repository (the one of the wal-push that started
     *                  this pusher), or null
     * @param onRequest called for every request (the pusher counts it as work, so it stays up while asked)
     * @param onForeign called when a JVM run binds a key to another repository: a pusher started on demand then
     *                  stops, so the next one starts with the new settings
     */
    static PushRequests open(
            Path spool,
            String identity,
            String boundKey,
            Path walDir,
            Handler handler,
            Runnable onRequest,
            Runnable onForeign)
            throws IOException {
        ServerSocket server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        Path portFile = spool.resolve(PORT_FILE);
        PushRequests r =
                new PushRequests(server, portFile, identity, walDir.toRealPath(), handler, onRequest, onForeign);
        if (boundKey != null && !boundKey.isBlank()) {
            r.boundKeys.add(boundKey);
        }
        Path tmp = spool.resolve("." + PORT_FILE + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, server.getLocalPort() + " " + r.clientToken + " " + r.serverToken + "\n");
        Files.move(tmp, portFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Runtime.getRuntime().addShutdownHook(r.cleanup);
        r.acceptor.start();
        return r;
    }

    /**
     * Binds a settings key to a repository: sent by a JVM run of wal-push (which opened the repository those settings
     * name) to the pusher of its spool. Returns the answer line.
     */
    static String bind(Path spool, String settingsKey, String identity) throws IOException {
        String[] f = Files.readString(spool.resolve(PORT_FILE)).strip().split(" ");
        if (f.length != 3) {
            throw new IOException(spool.resolve(PORT_FILE) + " is not a pusher's port file");
        }
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), Integer.parseInt(f[0]))) {
            s.setSoTimeout(10_000);
            s.getOutputStream()
                    .write(("BIND " + f[1] + " " + settingsKey + " " + identity + "\n")
                            .getBytes(StandardCharsets.US_ASCII));
            String answer =
                    new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
            if (answer == null || !answer.equals("OK " + f[2])) {
                throw new IOException("the pusher of " + spool + " did not accept these settings: " + answer);
            }
            return answer;
        }
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
                        new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                OutputStream out = s.getOutputStream()) {
            s.setSoTimeout(10_000); // the request line comes at once; only the answer may take long
            String answer = answer(readLine(in), () -> {
                out.write("ACK\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            });
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

    interface Ack {
        void send() throws IOException;
    }

    String answer(String line, Ack ack) throws IOException {
        String[] f = line.strip().split(" ", 6);
        if (f.length < 2 || !MessageDigest.isEqual(bytes(f[1]), bytes(clientToken))) {
            return "ERR wrong token";
        }
        if (f[0].equals("BIND") && f.length == 4) {
            if (!f[3].equals(identity)) {
                log.warn(
                        "wal-push now archives into repository {}, this pusher into {}: {}",
                        f[3],
                        identity,
                        "it answers no more requests for those settings");
                onForeign.run();
                return "ERR this pusher archives into another repository (" + identity + ")";
            }
            boundKeys.add(f[2]);
            return "OK " + serverToken;
        }
        if (!f[0].equals("PUSH") || f.length != 6) {
            return "ERR expected: PUSH TOKEN KEY NAME FINGERPRINT PG_WAL";
        }
        ack.send();
        String name = f[3];
        if (!boundKeys.contains(f[2])) {
            return "ERR settings not yet bound to this pusher's repository";
        }
        if (!WalArchive.isWalFileName(name)) {
            return "ERR not a WAL file name: " + name;
        }
        try {
            if (!Path.of(f[5]).toRealPath().equals(walDir)) {
                return "ERR this pusher serves " + walDir + ", not " + f[5];
            }
        } catch (IOException | RuntimeException e) {
            return "ERR " + f[5] + ": " + e.getMessage();
        }
        if (!Files.exists(walDir.resolve("archive_status").resolve(name + ".ready"))) {
            return "ERR " + name + " is not marked ready in " + walDir;
        }
        onRequest.run();
        try {
            String archived = handler.push(name, f[4]);
            return archived.equals(f[4])
                    ? "OK " + serverToken
                    : "ERR " + name + " in " + walDir + " is not the file archive_command named";
        } catch (Exception e) {
            return "ERR " + String.valueOf(e.getMessage()).replace('\n', ' ');
        } finally {
            onRequest.run();
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String randomHex() {
        byte[] b = new byte[16];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static byte[] sha256(byte[] data) {
        return CryptoProvider.sha256().digest(data);
    }

    private void removePortFile() {
        try {
            // only our own: a pusher that replaced us (after we lost the lock) keeps its file
            if (Files.readString(portFile).contains(" " + serverToken)) {
                Files.deleteIfExists(portFile);
            }
        } catch (IOException ignored) {
            // gone already
        }
    }

    @Override
    public void close() throws IOException {
        try {
            removePortFile();
            Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException shuttingDown) {
            // the hook runs anyway
        } finally {
            server.close();
        }
    }
}
