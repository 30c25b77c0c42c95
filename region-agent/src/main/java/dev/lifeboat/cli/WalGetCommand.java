package dev.lifeboat.cli;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.concurrent.Callable;

@Command(name = "wal-get", description = "Fetch one archived WAL file (for restore_command = 'lifeboat wal-get --config FILE %%f %%p'). "
        + "Exits 1 when the file is not archived, as PostgreSQL expects at the end of the archive.")
final class WalGetCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Parameters(index = "0", paramLabel = "WAL_NAME", description = "WAL file name (%%f).")
    String name;

    @Parameters(index = "1", paramLabel = "DEST", description = "Where to write it (%%p, relative to PGDATA).")
    Path dest;

    @picocli.CommandLine.Option(names = "--prefetch", defaultValue = "0", paramLabel = "N",
            description = "Download the next N segments ahead in the background (needs --spool-dir).")
    int prefetch;

    @picocli.CommandLine.Option(names = "--spool-dir", paramLabel = "DIR", description = "Where prefetched segments wait.")
    Path spoolDir;

    @Override
    public Integer call() throws Exception {
        if (!WalArchive.isWalFileName(name)) {
            throw new IllegalArgumentException("'" + name + "' is not a WAL file name");
        }
        if (prefetch > 0 && spoolDir == null) {
            throw new IllegalArgumentException("--prefetch needs --spool-dir DIR");
        }
        dev.lifeboat.engine.postgres.WalSpool spool = spoolDir == null ? null : new dev.lifeboat.engine.postgres.WalSpool(spoolDir);
        if (spool != null && spool.takePrefetched(name, dest.toAbsolutePath())) {
            spool.startPrefetch(name, repo.forwardedArgs(), prefetch);
            return 0;
        }
        Repository r = repo.open();
        WalArchive archive = new WalArchive(r);
        Optional<byte[]> data = archive.read(name);
        if (data.isEmpty() && WalArchive.isSegment(name)) {
            // only the streaming receiver's in-progress copy: hand it out zero-padded, which PostgreSQL replays as the end of WAL
            data = archive.read(name + ".partial").map(WalGetCommand::padToSegment);
            if (data.isPresent() && repo.verbose) {
                System.err.println(name + ": serving " + name + ".partial, zero-padded");
            }
        }
        if (data.isEmpty()) {
            if (repo.verbose) {
                System.err.println(name + " is not in the archive");
            }
            return 1;
        }
        Path abs = dest.toAbsolutePath();
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".lifeboat-tmp");
        Files.write(tmp, data.get());
        Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        if (spool != null && prefetch > 0) {
            spool.startPrefetch(name, repo.forwardedArgs(), prefetch);
        }
        return 0;
    }

    /**
     * Pads a partial segment with zeros to the segment size recorded in its first page's long header
     * (xlp_seg_size at offset 32, host byte order), or 16 MiB if the header is not there.
     */
    static byte[] padToSegment(byte[] partial) {
        long size = 16L << 20;
        if (partial.length >= 40) {
            long s = java.nio.ByteBuffer.wrap(partial, 32, 4).order(java.nio.ByteOrder.nativeOrder()).getInt() & 0xffffffffL;
            if (s >= (1L << 20) && s <= (1L << 30) && Long.bitCount(s) == 1) {
                size = s;
            }
        }
        return partial.length >= size ? partial : java.util.Arrays.copyOf(partial, (int) size);
    }
}
