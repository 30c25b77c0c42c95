package dev.lifeboat.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Synchronous regions: a write returns only once every region has it; locks stay in the primary. */
class ReplicatingBlobStoreTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void writesAndDeletesReachEverySynchronousRegionBeforeReturningButLocksDoNot() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore eu = new LocalBlobStore(tmp.resolve("eu"));
        LocalBlobStore us = new LocalBlobStore(tmp.resolve("us"));
        try (BlobStore store = new ReplicatingBlobStore(primary, Map.of("eu", eu, "us", us))) {
            store.put("data/ab/pack", b("pack"));
            assertThat(store.putIfAbsent("wal/00000001/seg", b("wal"))).isTrue();
            assertThat(store.putIfAbsent("locks/exclusive", b("me"))).isTrue();
            store.put("replication/eu/status", b("{}"));
            for (BlobStore s : List.of(primary, eu, us)) {
                assertThat(s.get("data/ab/pack")).isEqualTo(b("pack"));
                assertThat(s.get("wal/00000001/seg")).isEqualTo(b("wal"));
            }
            assertThat(eu.stat("locks/exclusive")).isEmpty();
            assertThat(us.stat("replication/eu/status")).isEmpty();

            // a region that missed an object gets it when the write is repeated (e.g. archive_command retried)
            us.delete("wal/00000001/seg");
            assertThat(store.putIfAbsent("wal/00000001/seg", b("wal"))).isFalse();
            assertThat(us.get("wal/00000001/seg")).isEqualTo(b("wal"));

            store.delete("data/ab/pack");
            for (BlobStore s : List.of(primary, eu, us)) {
                assertThat(s.stat("data/ab/pack")).isEmpty();
            }
        }
    }

    @Test
    void aRegionThatCannotWriteFailsTheWriteNamingIt() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore eu = new LocalBlobStore(tmp.resolve("eu"));
        Files.writeString(tmp.resolve("not-a-directory"), "x");
        LocalBlobStore broken =
                new LocalBlobStore(tmp.resolve("not-a-directory").resolve("store"));
        try (BlobStore store = new ReplicatingBlobStore(primary, Map.of("eu", eu, "ap", broken))) {
            assertThatThrownBy(() -> store.put("snapshots/x", b("manifest")))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("synchronous region ap")
                    .hasMessageContaining("write snapshots/x");
            // written where it could be; the background replicator copies it to ap once ap works again
            assertThat(primary.get("snapshots/x")).isEqualTo(b("manifest"));
            assertThat(eu.get("snapshots/x")).isEqualTo(b("manifest"));
        }
    }

    @Test
    void repoInitWithASynchronousRegionLeavesARepositoryThereThatOpensOnItsOwn() throws Exception {
        Path key = PgTestSupport.keyFile(tmp);
        String primaryUri = PgTestSupport.repoUri(tmp.resolve("primary"));
        String secondaryUri = PgTestSupport.repoUri(tmp.resolve("dr"));
        Path config = tmp.resolve("replication.json");
        Files.writeString(
                config, "{\"regions\": [{\"name\": \"dr\", \"uri\": \"" + secondaryUri + "\", \"mode\": \"sync\"}]}");
        assertThat(PgTestSupport.cli(
                                "repo-init",
                                "--repo",
                                primaryUri,
                                "--key-file",
                                key.toString(),
                                "--replication",
                                config.toString())
                        .exitCode())
                .isZero();
        // the secondary is a repository of its own: it opens and lists with the same key
        PgTestSupport.CliResult list = PgTestSupport.cli("list", "--repo", secondaryUri, "--key-file", key.toString());
        assertThat(list.exitCode()).as(list.all()).isZero();
    }

    @Test
    void aSynchronousRegionHoldingAnotherRepositoryIsNeverWritten() throws Exception {
        LocalBlobStore primary = new LocalBlobStore(tmp.resolve("p"));
        LocalBlobStore other = new LocalBlobStore(tmp.resolve("other"));
        other.put("config", b("{keys of another repository}"));
        try (BlobStore store = new ReplicatingBlobStore(primary, Map.of("dr", other))) {
            // e.g. repo-init of a new repository with a replication file that names another one's DR copy
            assertThatThrownBy(() -> store.putIfAbsent("config", b("{new keys}")))
                    .hasMessageContaining("holds another repository");
            assertThatThrownBy(() -> store.put("data/aa/p", b("x"))).hasMessageContaining("holds another repository");
        }
        assertThat(other.get("config")).isEqualTo(b("{keys of another repository}"));
        assertThat(other.stat("data/aa/p")).isEmpty();
    }
}
