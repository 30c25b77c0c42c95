package dev.lifeboat.cli.commands.replication;

import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStores;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Options of every replication subcommand: the primary repository, the config, the regions to act on. */
final class ReplicationTarget {
    @Mixin
    RepoOptions repo;

    @Option(
            names = "--region",
            paramLabel = "NAME",
            description = "Only this region (repeatable). Default: every region.")
    List<String> regions;

    ReplicationConfig config() throws IOException {
        Path file = repo.replicationConfig();
        if (file == null) {
            throw new IllegalArgumentException(
                    "no replication config: pass --replication FILE or set LIFEBOAT_REPLICATION");
        }
        return ReplicationConfig.load(file);
    }

    List<ReplicationConfig.Region> selected(ReplicationConfig c) {
        if (regions == null || regions.isEmpty()) {
            return c.regions();
        }
        return regions.stream().map(c::region).toList();
    }

    /** The primary alone: replication reads and writes objects, it never needs the repository key. */
    BlobStore primary() {
        repo.refuseFromRegion("replication");
        return BlobStores.open(repo.uri());
    }
}
