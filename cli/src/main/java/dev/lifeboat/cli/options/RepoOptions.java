package dev.lifeboat.cli.options;

import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.replication.RepositoryAccess;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.BlobStore;
import java.io.Console;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** Options every repository command shares: where the repository is and how to unlock it. */
public final class RepoOptions {
    @Option(
            names = "--repo",
            paramLabel = "URI",
            description = "Repository URI: file:///var/lib/lifeboat/repo, s3://bucket/prefix, "
                    + "azure://container/prefix or gs://bucket/prefix (env LIFEBOAT_REPO).")
    String repo;

    @Option(
            names = "--key-file",
            paramLabel = "FILE",
            description = "Key file that unlocks the repository (instead of a passphrase).")
    Path keyFile;

    @Option(
            names = "--config",
            paramLabel = "FILE",
            description = "Config file with defaults for any option (key = value).")
    Path config;

    @Option(
            names = "--replication",
            paramLabel = "FILE",
            description = "Replication config (JSON); writes are "
                    + "acknowledged only once durable in its synchronous regions too (env LIFEBOAT_REPLICATION).")
    Path replication;

    @Option(
            names = "--from-region",
            paramLabel = "NAME",
            description = "Use region NAME of the replication config instead of --repo: its URI and its own store "
                    + "settings (endpoint, account, credentials), nothing of the primary's. For restores, drills "
                    + "and checks when the primary region is gone.")
    String fromRegion;

    /** --repo as given (or from the environment or config file), or the --from-region region's; null if none. */
    public String uri() {
        return fromRegion != null ? region().uri() : repo;
    }

    /**
     * Refuses {@code --from-region} for a command that writes the repository (backups, WAL, expire, gc, replication
     * control): a region is the replicator's copy of the primary, and a write there would diverge from it (and on a
     * write-once region, retention decides what leaves it).
     */
    public void refuseFromRegion(String command) {
        if (fromRegion != null) {
            throw new IllegalArgumentException(command + " writes the repository: run it on the primary (--repo), not "
                    + "on region " + fromRegion + "; the replicator keeps the regions in step with the primary"
                    + (region().immutable() != null
                            ? " (in a write-once region, objects leave only once their retention has passed)"
                            : ""));
        }
    }

    private ReplicationConfig.Region region() {
        if (replication == null) {
            throw new IllegalArgumentException("--from-region " + fromRegion
                    + " needs the replication config that names it (--replication " + "FILE or LIFEBOAT_REPLICATION)");
        }
        try {
            return ReplicationConfig.load(replication).region(fromRegion);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read replication config " + replication + ": " + e.getMessage());
        }
    }

    /** --from-region, or null. */
    public String fromRegion() {
        return fromRegion;
    }

    /** --key-file, or null. */
    public Path keyFile() {
        return keyFile;
    }

    /** --replication, or null. */
    public Path replicationConfig() {
        return replication;
    }

    /** The repository options again, for a child process (restore_command) that must open the same repository. */
    public List<String> forwardedArgs() {
        List<String> out = new ArrayList<>();
        if (config != null) {
            out.add("--config");
            out.add(config.toAbsolutePath().toString());
        }
        if (fromRegion == null) {
            out.add("--repo");
            out.add(store().uri());
        }
        if (replication != null) {
            out.add("--replication");
            out.add(replication.toAbsolutePath().toString());
        }
        if (fromRegion != null) {
            out.add("--from-region");
            out.add(fromRegion);
        }
        if (keyFile != null) {
            out.add("--key-file");
            out.add(keyFile.toAbsolutePath().toString());
        }
        return out;
    }

    private BlobStore opened;

    /** The repository's store (with its synchronous regions when a replication config is given), opened once. */
    public BlobStore store() {
        if (opened == null) {
            opened = openStore();
        }
        return opened;
    }

    private BlobStore openStore() {
        if (fromRegion != null) {
            // the region alone, read-only: neither the primary nor the other regions (their writes or fallbacks)
            return RepositoryAccess.openRegionForReading(region(), () -> false);
        }
        return RepositoryAccess.openStore(repo, replication);
    }

    /** The key source for opening an existing repository: key file, LIFEBOAT_PASSPHRASE, or a prompt on a terminal. */
    public KeySource keySource() throws IOException {
        if (keyFile != null) {
            return KeySource.KeyFile.read(keyFile);
        }
        String pass = System.getenv("LIFEBOAT_PASSPHRASE");
        if (pass != null && !pass.isEmpty()) {
            return new KeySource.Passphrase(pass.toCharArray());
        }
        Console console = System.console();
        if (console != null) {
            char[] p = console.readPassword("Repository passphrase: ");
            if (p != null && p.length > 0) {
                return new KeySource.Passphrase(p);
            }
        }
        return null;
    }

    public Repository open() throws IOException {
        return RepositoryAccess.open(store(), this::keySource);
    }
}
