package dev.lifeboat.storage.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Test hooks for the crash matrix (docs/testing.md, "Crash matrix"): deterministic points at which this process stops
 * the way kill -9 stops it ({@link Runtime#halt}: no finally blocks, no shutdown hooks, nothing flushed that was not
 * already written). Inert unless one of these environment variables is set:
 * <ul>
 *   <li>{@code LIFEBOAT_CRASH_AFTER_WRITES=N}: halt right after the N-th mutating store call (put, putIfAbsent, delete)
 *       of this process has returned (or thrown);</li>
 *   <li>{@code LIFEBOAT_CRASH_BEFORE_WRITE=N}: halt right before the N-th mutating store call starts;</li>
 *   <li>{@code LIFEBOAT_CRASH_KEYS=data/,snapshots/}: count only calls on keys with one of these prefixes (an entry
 *       ending in {@code $} matches that key exactly: {@code wal/00000001/000000010000000000000007$});</li>
 *   <li>{@code LIFEBOAT_CRASH_AFTER_FILES=N}: halt right after the N-th file any progress tracker counts as done
 *       (restore writes to local disk, not to the store);</li>
 *   <li>{@code LIFEBOAT_CRASH_TOKEN=FILE}: one crash only, across any number of processes: a process halts only if it
 *       can delete FILE (so a background helper restarted after the crash, with the same environment, runs on);</li>
 *   <li>{@code LIFEBOAT_CRASH_LOG=FILE}: append one line per counted write and file, and one for the crash, so a
 *       clean run tells how many points an operation has.</li>
 * </ul>
 * Counts are per process and follow the order in which calls start (before) or return (after); with concurrent
 * uploads a call that returns "at the same time" may still complete, as it could under a real kill.
 */
public final class CrashPoints {
    public static final String AFTER_WRITES = "LIFEBOAT_CRASH_AFTER_WRITES";
    public static final String BEFORE_WRITE = "LIFEBOAT_CRASH_BEFORE_WRITE";
    public static final String KEYS = "LIFEBOAT_CRASH_KEYS";
    public static final String AFTER_FILES = "LIFEBOAT_CRASH_AFTER_FILES";
    public static final String TOKEN = "LIFEBOAT_CRASH_TOKEN";
    public static final String LOG = "LIFEBOAT_CRASH_LOG";
    /** What a shell reports for a process killed by SIGKILL (128 + 9). */
    public static final int EXIT_CODE = 137;

    /** How the process stops; tests of the hooks themselves replace it. */
    @FunctionalInterface
    public interface Halt {
        void halt(String why);
    }

    private static final CrashPoints PROCESS =
            new CrashPoints(System.getenv(), why -> Runtime.getRuntime().halt(EXIT_CODE));

    private final long afterWrites;
    private final long beforeWrite;
    private final long afterFiles;
    private final List<String> keys;
    private final Path token;
    private final Path log;
    private final Halt halt;
    private final AtomicLong writesStarted = new AtomicLong();
    private final AtomicLong writesDone = new AtomicLong();
    private final AtomicLong filesDone = new AtomicLong();

    public CrashPoints(Map<String, String> env, Halt halt) {
        this.afterWrites = number(env, AFTER_WRITES);
        this.beforeWrite = number(env, BEFORE_WRITE);
        this.afterFiles = number(env, AFTER_FILES);
        String k = env.get(KEYS);
        this.keys = k == null || k.isBlank()
                ? List.of()
                : Arrays.stream(k.split(","))
                        .map(String::strip)
                        .filter(s -> !s.isEmpty())
                        .toList();
        this.token = path(env, TOKEN);
        this.log = path(env, LOG);
        this.halt = halt;
    }

    /** The points this process was started with (from its environment). */
    public static CrashPoints process() {
        return PROCESS;
    }

    private static long number(Map<String, String> env, String name) {
        String v = env.get(name);
        if (v == null || v.isBlank()) {
            return 0;
        }
        try {
            long n = Long.parseLong(v.strip());
            if (n < 1) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a positive number, got '" + v + "'");
        }
    }

    private static Path path(Map<String, String> env, String name) {
        String v = env.get(name);
        return v == null || v.isBlank() ? null : Path.of(v);
    }

    /** Whether store writes are watched at all (BlobStores wraps the store only then). */
    public boolean watchesWrites() {
        return afterWrites > 0 || beforeWrite > 0 || log != null;
    }

    boolean counts(String key) {
        if (keys.isEmpty()) {
            return true;
        }
        for (String p : keys) {
            if (p.endsWith("$") ? key.equals(p.substring(0, p.length() - 1)) : key.startsWith(p)) {
                return true;
            }
        }
        return false;
    }

    /** Called before a mutating store call. */
    void beforeWrite(String op, String key) {
        if (!counts(key)) {
            return;
        }
        long n = writesStarted.incrementAndGet();
        if (n == beforeWrite) {
            crash("before write " + n + " (" + op + " " + key + ")");
        }
    }

    /** Called once a mutating store call has returned or thrown. */
    void afterWrite(String op, String key, String outcome) {
        if (!counts(key)) {
            return;
        }
        long n = writesDone.incrementAndGet();
        record("write " + n + " " + op + " " + key + " " + outcome);
        if (n == afterWrites) {
            crash("after write " + n + " (" + op + " " + key + ", " + outcome + ")");
        }
    }

    /** A progress tracker counted a file as done. */
    public void fileDone(String operation, String phase) {
        if (afterFiles == 0 && log == null) {
            return;
        }
        long n = filesDone.incrementAndGet();
        record("file " + n + " " + operation + " " + phase);
        if (n == afterFiles) {
            crash("after file " + n + " (" + operation + " " + phase + ")");
        }
    }

    private void crash(String where) {
        if (token != null) {
            try {
                if (!Files.deleteIfExists(token)) {
                    return; // the one crash this token allows has happened (or it was never armed)
                }
            } catch (IOException e) {
                return;
            }
        }
        record("crash " + where);
        System.err.println("lifeboat: test crash point reached: halting " + where);
        System.err.flush();
        halt.halt(where);
    }

    private synchronized void record(String line) {
        if (log == null) {
            return;
        }
        try {
            Files.write(
                    log,
                    (ProcessHandle.current().pid() + " " + line + "\n").getBytes(StandardCharsets.UTF_8),
                    StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND,
                    StandardOpenOption.WRITE);
        } catch (IOException e) {
            System.err.println("lifeboat: cannot write " + LOG + " " + log + ": " + e.getMessage());
        }
    }
}
