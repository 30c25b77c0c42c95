package dev.lifeboat.cli.commands.wal;

import dev.lifeboat.cli.ExitCodeException;
import dev.lifeboat.cli.Main;
import dev.lifeboat.cli.options.LoggingOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.engine.Engine;
import dev.lifeboat.engine.Engines;
import dev.lifeboat.engine.postgres.WalSpool;
import dev.lifeboat.repository.ReplayLease;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "wal-get",
        description = "Fetch one archived WAL file (for restore_command = 'lifeboat wal-get --config FILE %%f %%p'). "
                + "Exits 1 when the file is not archived, as PostgreSQL expects at the end of the archive; an "
                + "in-progress "
                + "SEGMENT.partial is served only for the segment named with --partial.")
public final class WalGetCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Mixin
    LoggingOptions logging;

    @Parameters(index = "0", paramLabel = "WAL_NAME", description = "WAL file name (%%f).")
    String name;

    @Parameters(index = "1", paramLabel = "DEST", description = "Where to write it (%%p, relative to PGDATA).")
    Path dest;

    @Option(
            names = "--prefetch",
            defaultValue = "0",
            paramLabel = "N",
            description = "Download the next N segments ahead in the background (needs --spool-dir).")
    int prefetch;

    @Option(names = "--spool-dir", paramLabel = "DIR", description = "Where prefetched segments wait.")
    Path spoolDir;

    @Option(
            names = "--partial",
            paramLabel = "SEGMENT",
            description = "When SEGMENT itself is not "
                    + "archived, serve SEGMENT.partial, zero-padded to a whole segment (PostgreSQL replays the "
                    + "zeros as the end of "
                    + "WAL). restore adds it when the recovery plan ends in that partial; no other segment is "
                    + "ever served from a partial.")
    String partialSegment;

    @Option(
            names = "--last",
            paramLabel = "SEGMENT",
            description = "Serve no segment after SEGMENT (answer 'not archived'), so that recovery ends at the end "
                    + "of WAL the restore planned even while the archive keeps growing. DR drills add it: their copy "
                    + "is the database as of the drill's start.")
    String lastSegment;

    @Option(
            names = "--lease",
            paramLabel = "ID",
            description = "The restore's replay lease, renewed while "
                    + "WAL is served so that expire keeps the WAL this recovery still needs (restore adds it).")
    String lease;

    @Option(
            names = "--strict",
            description = "Exit " + STRICT_FAILURE + " (which makes PostgreSQL stop "
                    + "recovery) on any failure other than 'not archived', instead of 1 (which PostgreSQL takes for "
                    + "the end of the "
                    + "archive). restore adds it for every target but the end of the backup.")
    boolean strict;

    @Option(
            names = "--expect",
            split = ",",
            paramLabel = "FIRST-LAST",
            description = "Segment ranges "
                    + "the recovery plan found archived (with --strict): one of them missing now stops recovery (exit "
                    + STRICT_FAILURE + ") instead of ending it there. restore adds them.")
    List<String> expected = List.of();

    /** Above 125: PostgreSQL treats restore_command's exit like a signal and stops recovery with FATAL. */
    static final int STRICT_FAILURE = 129;

    @Override
    public Integer call() throws Exception {
        try {
            return fetch();
        } catch (Exception e) {
            if (!strict) {
                throw e;
            }
            // a repository that cannot be read must not look like the end of the archive: recovery to the latest
            // point would promote early and silently lose what it could not fetch
            throw new ExitCodeException(
                    STRICT_FAILURE,
                    "cannot fetch " + name + " (recovery must stop here rather " + "than end as if the archive ended): "
                            + Main.describe(e));
        }
    }

    private Integer fetch() throws Exception {
        if (!WalArchive.isWalFileName(name)) {
            throw new IllegalArgumentException("'" + name + "' is not a WAL file name");
        }
        if (partialSegment != null && !WalArchive.isSegment(partialSegment)) {
            throw new IllegalArgumentException(
                    "--partial needs a WAL segment name (24 hex digits), got '" + partialSegment + "'");
        }
        if (prefetch > 0 && spoolDir == null) {
            throw new IllegalArgumentException("--prefetch needs --spool-dir DIR");
        }
        if (lastSegment != null && !WalArchive.isSegment(lastSegment)) {
            throw new IllegalArgumentException(
                    "--last needs a WAL segment name (24 hex digits), got '" + lastSegment + "'");
        }
        if (lastSegment != null && WalSpool.after(name, lastSegment)) {
            if (logging.verbose()) {
                System.err.println(name + " is after " + lastSegment + ", where this recovery was planned to end");
            }
            return 1;
        }
        WalSpool spool = spoolDir == null ? null : new WalSpool(spoolDir);
        if (spool != null && spool.takePrefetched(name, dest.toAbsolutePath())) {
            spool.startPrefetch(name, workerArgs(), prefetch);
            return 0;
        }
        Repository r = repo.open();
        Engine engine = Engines.postgresql();
        Optional<byte[]> data = engine.fetchWal(r, name);
        // a partial is served only where the recovery plan ends in it: anywhere else it would silently end replay
        // early, or replay a promotion's copy of another timeline's segment as if it were this one
        if (data.isEmpty() && name.equals(partialSegment)) {
            Optional<byte[]> partial = engine.fetchWal(r, name + ".partial");
            if (partial.isPresent()) {
                System.err.println("wal-get: " + name + " is not archived; serving " + name + ".partial ("
                        + partial.get().length + " bytes of WAL), zero-padded to a whole segment");
                data = partial.map(WalGetCommand::padToSegment);
            }
        }
        if (data.isEmpty()) {
            if (strict && isExpected(name)) {
                throw new IOException(name + " was archived when the restore planned this recovery and is missing now "
                        + "(deleted by hand, by an expire without the replay lease, or a region that lacks it)");
            }
            if (logging.verbose()) {
                System.err.println(name + " is not in the archive");
            }
            return 1;
        }
        Path abs = dest.toAbsolutePath();
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".lifeboat-tmp");
        Files.write(tmp, data.get());
        Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        renewLease(r);
        if (spool != null && prefetch > 0) {
            spool.startPrefetch(name, workerArgs(), prefetch);
        }
        return 0;
    }

    /** Whether {@code name} is a segment inside one of the --expect ranges (same timeline, between first and last). */
    boolean isExpected(String name) {
        if (!WalArchive.isSegment(name)) {
            return false;
        }
        for (String range : expected) {
            String[] fl = range.split("-");
            if (fl.length == 2
                    && WalArchive.isSegment(fl[0])
                    && WalArchive.isSegment(fl[1])
                    && name.substring(0, 8).equals(fl[0].substring(0, 8))
                    && name.compareTo(fl[0]) >= 0
                    && name.compareTo(fl[1]) <= 0) {
                return true;
            }
        }
        return false;
    }

    /** The background fetcher's arguments: the repository's, and the lease it keeps renewing while it fetches. */
    private List<String> workerArgs() {
        List<String> args = new ArrayList<>(repo.forwardedArgs());
        if (lease != null) {
            args.addAll(List.of("--lease", lease));
        }
        if (lastSegment != null) {
            // the fetcher downloads nothing past the end either: the launcher hands its files over unchecked
            args.addAll(List.of("--last", lastSegment));
        }
        return args;
    }

    private void renewLease(Repository r) {
        if (lease == null) {
            return;
        }
        try {
            if (ReplayLease.renew(r.store(), lease) == ReplayLease.Renewal.GONE) {
                System.err.println(
                        "wal-get: replay lease " + lease + " is gone (released, or deleted as stale by expire): "
                                + "expire no longer keeps this recovery's WAL");
            }
        } catch (IOException | RuntimeException e) {
            // serving WAL matters more than the lease; it is retried with the next file
            System.err.println("wal-get: could not renew replay lease " + lease + ": " + e.getMessage());
        }
    }

    /**
     * Pads a partial segment with zeros to the segment size recorded in its first page's long header, or 16 MiB if
     * the header is not there.
     */
    static byte[] padToSegment(byte[] partial) {
        WalArchive.PageHeader h = WalArchive.PageHeader.parse(partial);
        long size = h == null ? 16L << 20 : h.segmentSize();
        return partial.length >= size ? partial : Arrays.copyOf(partial, (int) size);
    }
}
