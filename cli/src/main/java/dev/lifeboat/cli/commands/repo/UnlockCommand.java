package dev.lifeboat.cli.commands.repo;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.repository.ReplayLease;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RepositoryLock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "unlock",
        description = {
            "Remove repository locks left by processes that are gone (e.g. on a host that died).",
            "Prints every lock with its owner token, process, boot id, PID namespace and last renewal, and whether it "
                    + "already "
                    + "counts as stale, then removes them all. Replay leases of running recoveries are kept unless "
                    + "--replay-leases is given."
        })
public final class UnlockCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Mixin
    OutputOptions output;

    @Option(
            names = "--replay-leases",
            description = "Also remove replay leases (locks/replay-*), which keep `expire` from "
                    + "deleting WAL that a recovery still replays. Only for recoveries you know have ended or "
                    + "been abandoned.")
    boolean replayLeases;

    @Override
    public Integer call() throws Exception {
        if (repo.fromRegion() != null) {
            throw new IllegalArgumentException("unlock --from-region " + repo.fromRegion() + ": restores, drills "
                    + "and checks open a region read-only and take no lock or lease there, so there is none of "
                    + "theirs to remove (one left by an older version is read by nothing); the primary's locks are "
                    + "never replicated: unlock them with --repo");
        }
        Repository r = repo.open();
        List<Map<String, Object>> locks = new ArrayList<>();
        for (RepositoryLock.Entry e : RepositoryLock.all(r)) {
            if (output.json()) {
                Map<String, Object> lock = new LinkedHashMap<>();
                lock.put("key", e.key());
                lock.put("holder", e.holder().describe());
                lock.put("details", e.holder().details());
                lock.put("stale", e.staleReason() != null);
                lock.put("staleReason", e.staleReason());
                locks.add(lock);
                continue;
            }
            System.out.println("removing " + e.key() + " held by " + e.holder().describe());
            System.out.println("    " + e.holder().details() + "; "
                    + (e.staleReason() == null
                            ? "NOT stale: its holder may still be running"
                            : "stale: " + e.staleReason()));
        }
        List<Map<String, Object>> leases = new ArrayList<>();
        for (ReplayLease.Lease l : ReplayLease.list(r.store()).leases()) {
            boolean stale = l.isStale(Instant.now(), ReplayLease.DEFAULT_TTL);
            if (output.json()) {
                Map<String, Object> lease = new LinkedHashMap<>();
                lease.put("key", l.key());
                lease.put("recovery", l.describe());
                lease.put("backup", l.backup());
                lease.put("firstSegment", l.firstSegment());
                lease.put("renewed", l.lastRenewed());
                lease.put("stale", stale);
                lease.put("removed", replayLeases);
                leases.add(lease);
                continue;
            }
            System.out.println((replayLeases ? "removing " : "keeping ") + "replay lease " + l.key() + ": "
                    + l.describe()
                    + " (backup " + l.backup() + ", from segment " + l.firstSegment() + ", renewed " + l.lastRenewed()
                    + (stale ? ", stale" : "") + ")" + (replayLeases ? "" : "; add --replay-leases to remove it"));
        }
        int n = RepositoryLock.breakAll(r, replayLeases);
        if (output.json()) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("locks", locks);
            out.put("replayLeases", leases);
            out.put("removed", n);
            output.printJson(out);
        } else {
            System.out.println("removed " + n + " lock(s)" + (replayLeases ? " and replay lease(s)" : ""));
        }
        return 0;
    }
}
