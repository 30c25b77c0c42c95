package dev.lifeboat.agent.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.lifeboat.engine.postgres.PgConnections;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How the probe finds the newest durable WAL in a repository far into its WAL (4 GiB blocks), with no server to ask
 * (a loopback port nothing listens on, so every reading is the object-time estimate). Segment objects are only
 * listed, never read, so they hold placeholder bytes under real segment names in a real repository on disk.
 */
class RpoProbeListingTest {
    @TempDir
    Path tmp;

    @Test
    void followsTheArchiveAcrossA4GiBBlockAndNoticesAnEmptiedRegionWithoutAServer() throws Exception {
        Path dir = tmp.resolve("repo");
        LocalBlobStore store = new LocalBlobStore(dir);
        KeySource key = KeySource.KeyFile.read(PgTestSupport.keyFile(tmp));
        Repository.init(store, key, false);
        Repository repo = Repository.open(store, key);
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        ProbeTarget target = new ProbeTarget(
                "orders",
                ProbeTarget.fixed(new PgConnections("127.0.0.1", closedPort, "postgres", null)),
                "home",
                repo,
                Map.of());
        // a long interval: the test drives every measurement itself
        try (RpoProbe probe = new RpoProbe(registry, List.of(target), Duration.ofHours(1))) {
            Instant written = Instant.now().minusSeconds(30);
            segment(dir, "0000000100000000000000FE", written.minusSeconds(10));
            segment(dir, "0000000100000000000000FF", written); // the last segment of the first 4 GiB
            probe.probeNow();
            RpoReading r = probe.latest().get(RpoProbe.key("orders", "home"));
            assertThat(r.durableLsn()).isEqualTo(1L << 32);
            assertThat(r.estimatedFromObjectTime()).isTrue();
            assertThat(r.currentLsn()).isEqualTo(-1);
            assertThat(r.error()).contains("cannot ask the server of orders");
            assertThat(r.rpoSeconds())
                    .isCloseTo(Duration.between(written, r.measuredAt()).toNanos() / 1e9, within(0.01));

            // the archive moves into the next block: found by listing that block too, not the whole timeline
            Instant next = Instant.now().minusSeconds(5);
            segment(dir, "000000010000000100000000", next);
            probe.probeNow();
            r = probe.latest().get(RpoProbe.key("orders", "home"));
            assertThat(r.durableLsn()).isEqualTo((1L << 32) + (16L << 20));
            assertThat(r.rpoSeconds())
                    .isCloseTo(Duration.between(next, r.measuredAt()).toNanos() / 1e9, within(0.01));
            assertThat(registry.get(RpoProbe.DURABLE_LSN)
                            .tags("database", "orders", "region", "home")
                            .gauge()
                            .value())
                    .isEqualTo((double) ((1L << 32) + (16L << 20)));

            // the region is emptied: nothing is durable any more, and the RPO is unknown
            for (String n :
                    List.of("0000000100000000000000FE", "0000000100000000000000FF", "000000010000000100000000")) {
                store.delete("wal/00000001/" + n);
            }
            probe.probeNow();
            r = probe.latest().get(RpoProbe.key("orders", "home"));
            assertThat(r.durableLsn()).isEqualTo(-1);
            assertThat(r.rpoSeconds()).isNaN();
            // one per measurement: these three, and the probe's own first one when it started
            assertThat(registry.get(RpoProbe.PROBE_ERRORS)
                            .tags("database", "orders", "region", "home")
                            .counter()
                            .count())
                    .isBetween(3.0, 4.0);
        }
        // closing the probe removes its meters
        assertThat(registry.find(RpoProbe.RPO_SECONDS).gauges()).isEmpty();
    }

    private static void segment(Path repoDir, String name, Instant mtime) throws Exception {
        Path p = repoDir.resolve("wal").resolve(name.substring(0, 8)).resolve(name);
        Files.createDirectories(p.getParent());
        Files.write(p, new byte[] {1});
        Files.setLastModifiedTime(p, FileTime.from(mtime));
    }
}
