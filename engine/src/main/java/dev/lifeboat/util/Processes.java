package dev.lifeboat.util;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs external programs (PostgreSQL's tools), as another OS user when we are root. */
public final class Processes {
    public record Result(int exitCode, String output) {}

    private Processes() {}

    public static boolean isRoot() {
        return currentUid() == 0;
    }

    public static int currentUid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException e) {
            return -1;
        }
    }

    public static String currentUser() {
        return System.getProperty("user.name");
    }

    /** Prefixes {@code runuser -u USER --} when we are root and USER is someone else. */
    public static List<String> asUser(String user, List<String> command) {
        if (user == null || !isRoot() || user.equals("root")) {
            return command;
        }
        List<String> out = new ArrayList<>(List.of("runuser", "-u", user, "--"));
        out.addAll(command);
        return out;
    }

    public static Result run(List<String> command, Duration timeout) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().remove("PGOPTIONS");
        Process p = pb.start();
        byte[][] out = new byte[1][];
        Thread reader = Thread.ofVirtual().start(() -> {
            try {
                out[0] = p.getInputStream().readAllBytes();
            } catch (IOException e) {
                out[0] = new byte[0];
            }
        });
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IOException("command timed out after " + timeout + ": " + String.join(" ", command));
            }
            reader.join();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + command.getFirst(), e);
        }
        return new Result(p.exitValue(), new String(out[0], StandardCharsets.UTF_8));
    }

    /** Runs the command and fails with its output when it exits non-zero. */
    public static String check(List<String> command, Duration timeout) throws IOException {
        Result r = run(command, timeout);
        if (r.exitCode() != 0) {
            throw new IOException(String.join(" ", command) + " failed with exit code " + r.exitCode() + ":\n"
                    + r.output().strip());
        }
        return r.output();
    }
}
