package dev.lifeboat.engine.postgres;

import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stops a PostgreSQL server still running on a scratch data directory before the directory is deleted: a drill's copy
 * whose validation server did not stop, or one an agent that was killed left behind. Immediate mode: the copy is
 * thrown away, so nothing is worth a checkpoint.
 */
public final class LeftoverServer {
    private static final Logger log = LoggerFactory.getLogger(LeftoverServer.class);

    private LeftoverServer() {}

    /** Returns whether no server runs on {@code pgdata} any more (none was running, or it stopped now). */
    public static boolean stop(Path pgdata) {
        PgDataDirectory dir = new PgDataDirectory(pgdata);
        try {
            Optional<PgDataDirectory.Postmaster> pm = dir.postmaster();
            if (pm.isEmpty() || !alive(pm.get().pid())) {
                return true;
            }
            if (!runsIn(pm.get().pid(), pgdata)) {
                // a stale pid file whose pid now belongs to another process (maybe another cluster): leave it be
                log.info(
                        "{}'s postmaster.pid names pid {}, which is not a server on it",
                        pgdata,
                        pm.get().pid());
                return true;
            }
            log.warn(
                    "a PostgreSQL server (pid {}) still runs on {}: stopping it",
                    pm.get().pid(),
                    pgdata);
            PgBinaries bins = PgBinaries.forVersion(dir.majorVersion());
            Processes.Result r = Processes.run(
                    Processes.asUser(
                            dir.owner(),
                            List.of(
                                    bins.path("pg_ctl"),
                                    "-D",
                                    pgdata.toString(),
                                    "-m",
                                    "immediate",
                                    "-w",
                                    "-t",
                                    "60",
                                    "stop")),
                    Duration.ofSeconds(90));
            if (r.exitCode() != 0) {
                log.warn("pg_ctl stop on {} failed: {}", pgdata, r.output().strip());
            }
            return !alive(pm.get().pid());
        } catch (IOException | RuntimeException e) {
            log.warn("could not stop the server on {}: {}", pgdata, e.getMessage());
            return false;
        }
    }

    /** Whether process {@code pid} works in {@code pgdata}: a postmaster's working directory is its data directory. */
    private static boolean runsIn(long pid, Path pgdata) {
        try {
            Path cwd = Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), "cwd"));
            return cwd.equals(pgdata.toRealPath());
        } catch (IOException | RuntimeException e) {
            return false; // cannot tell: do not signal a process that may not be ours
        }
    }

    /**
     * Whether {@code pid} runs: an exited postmaster whose parent (after pg_ctl's fork, often a container's init)
     * does not reap it stays a zombie, which ProcessHandle calls alive.
     */
    static boolean alive(long pid) {
        if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z'; // "pid (comm) state ..."
        } catch (IOException | RuntimeException e) {
            return true; // no /proc: trust ProcessHandle
        }
    }
}
