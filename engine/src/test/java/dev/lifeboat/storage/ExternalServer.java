package dev.lifeboat.storage;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A test server run as a separate process (S3Mock, Azurite): started on free loopback ports, waited for until it
 * answers
 * HTTP, and stopped by a shutdown hook when the test JVM exits, so one instance serves every test class of the run.
 */
public final class ExternalServer {
    private final String name;
    private final Process process;
    private final Path log;

    private ExternalServer(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 0, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Starts {@code command} and returns once {@code probe} answers any HTTP status, or fails with the log's tail. */
    public static ExternalServer start(String name, List<String> command, Path workDir, URI probe, Duration timeout)
            throws IOException, InterruptedException {
        return start(name, command, workDir, () -> answers(probe), probe.toString(), timeout);
    }

    /** Starts {@code command} and returns once {@code ready} says so (e.g. an https probe with a test CA). */
    public static ExternalServer start(
            String name, List<String> command, Path workDir, BooleanSupplier ready, String what, Duration timeout)
            throws IOException, InterruptedException {
        Files.createDirectories(workDir);
        Path log = workDir.resolve(name + ".log");
        Process p = new ProcessBuilder(command)
                .directory(workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        ExternalServer server = new ExternalServer(name, p, log);
        Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "stop-" + name));
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) {
                throw new IllegalStateException(
                        name + " exited with status " + p.exitValue() + " before it answered; " + server.logTail());
            }
            if (ready.getAsBoolean()) {
                return server;
            }
            Thread.sleep(200);
        }
        server.stop();
        throw new IllegalStateException(
                name + " did not answer on " + what + " within " + timeout + "; " + server.logTail());
    }

    private static boolean answers(URI probe) {
        try {
            HttpURLConnection c = (HttpURLConnection) probe.toURL().openConnection();
            c.setConnectTimeout(1000);
            c.setReadTimeout(2000);
            try {
                return c.getResponseCode() > 0;
            } finally {
                c.disconnect();
            }
        } catch (IOException e) {
            return false;
        }
    }

    public void stop() {
        process.descendants().forEach(ProcessHandle::destroy);
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private String logTail() {
        try {
            List<String> lines = Files.readAllLines(log);
            return "last lines of " + log + ":\n"
                    + String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "no log at " + log;
        }
    }

    @Override
    public String toString() {
        return name + " (pid " + process.pid() + ")";
    }

    /** One server per test JVM, started on first use; a failed start is remembered so later tests fail at once with its
     * cause. */
    public static final class Shared<T> {
        private final String what;
        private final Callable<T> start;
        private T value;
        private Exception failure;

        public Shared(String what, Callable<T> start) {
            this.what = what;
            this.start = start;
        }

        public synchronized T get() throws Exception {
            if (failure != null) {
                throw new IllegalStateException(what + " failed to start earlier in this run", failure);
            }
            if (value == null) {
                try {
                    value = start.call();
                } catch (Exception e) {
                    failure = e;
                    throw e;
                }
            }
            return value;
        }
    }
}
