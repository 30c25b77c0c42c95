package dev.lifeboat.engine.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lifeboat.engine.Engines;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RepositoryException;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.SnapshotSummary;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Json;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The manifest's engine section: typed, versioned, and still reading the string maps of older manifests. The fixture
 * {@code manifest-string-engineinfo/} holds the objects of a repository as Lifeboat stored them before the section had
 * a version (a real online backup of PostgreSQL 15 with data checksums and a tablespace; see its README).
 */
class ManifestEngineSectionTest {
    static final String BACKUP = "20261203-163352F-a1f1";

    static final String LABEL = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
            + "CHECKPOINT LOCATION: 0/2000060\n"
            + "BACKUP METHOD: streamed\n"
            + "BACKUP FROM: primary\n"
            + "START TIME: 2026-12-03 16:33:52 UTC\n"
            + "LABEL: lifeboat 20261203-163352F-a1f1\n"
            + "START TIMELINE: 1\n";

    /** The fixture's engineInfo exactly as it is stored (a map of strings), for comparison. */
    static final Map<String, String> STORED = orderedMap(
            "pgVersion", "15.20 (Debian 15.20-0+deb12u1)",
            "pgVersionNum", "150020",
            "systemIdentifier", "7715116851709977743",
            "walSegmentSize", "16777216",
            "blockSize", "8192",
            "dataChecksums", "on",
            "superuser", "postgres",
            "pgdataOwner", "postgres",
            "clusterId", "origin",
            "pagesChecksummed", "2833",
            "startLsn", "0/2000028",
            "stopLsn", "0/2000100",
            "timeline", "1",
            "backupLabel", LABEL,
            "tablespaceMap", "16384 /tmp/lb-fixture/ts\n",
            "startWal", "0/2000028 (file 000000010000000000000002)");

    /** The same facts, typed. */
    static final PostgresBackupInfo TYPED = new PostgresBackupInfo(
            "15.20 (Debian 15.20-0+deb12u1)",
            150020,
            7715116851709977743L,
            16L << 20,
            8192,
            true,
            "postgres",
            "postgres",
            ClusterIdentity.ORIGIN,
            1,
            0x2000028L,
            0x2000100L,
            "0/2000028 (file 000000010000000000000002)",
            LABEL,
            "16384 /tmp/lb-fixture/ts\n",
            2833L,
            null);

    @TempDir
    Path tmp;

    /** A writable copy of the fixture repository. */
    Repository fixture() throws Exception {
        Path source = Path.of(getClass()
                        .getResource("/manifest-string-engineinfo/config")
                        .toURI())
                .getParent();
        Path target = tmp.resolve("repo");
        try (Stream<Path> files = Files.walk(source)) {
            for (Path p : files.toList()) {
                Path to = target.resolve(source.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(p, to);
                }
            }
        }
        return Repository.open(new LocalBlobStore(target), null);
    }

    /** The manifest's JSON as the repository stores it. */
    static JsonNode storedJson(Repository repo, String id) throws Exception {
        byte[] sealed = repo.store().get(Repository.SNAPSHOTS + id);
        byte[] plain = repo.openMetadata(
                sealed, ("lifeboat-snapshot:" + id).getBytes(StandardCharsets.UTF_8), "manifest of backup " + id);
        return Json.MAPPER.readTree(Compression.unzstd(plain));
    }

    @Test
    void aManifestWithAStringMapLoadsAsTheTypedSection() throws Exception {
        Repository repo = fixture();
        JsonNode stored = storedJson(repo, BACKUP);
        assertThat(Json.MAPPER.convertValue(stored.get("engineInfo"), new TypeReference<Map<String, String>>() {}))
                .as("the fixture is in the old shape")
                .containsExactlyEntriesOf(STORED);

        Snapshot s = repo.loadSnapshot(BACKUP);
        assertThat(s.engine()).isEqualTo("postgresql");
        assertThat(s.engineInfo()).isEqualTo(TYPED);
        PostgresBackupInfo info = PostgresBackupInfo.of(s);
        assertThat(Lsn.format(info.startLsn())).isEqualTo(STORED.get("startLsn"));
        assertThat(Lsn.format(info.stopLsn())).isEqualTo(STORED.get("stopLsn"));
        assertThat(Long.toUnsignedString(info.systemIdentifier())).isEqualTo(STORED.get("systemIdentifier"));
        assertThat(info.majorVersion("15")).isEqualTo("15");
        assertThat(info.version()).isEqualTo(PostgresBackupInfo.VERSION);
        assertThat(s.files()).hasSize(994);
    }

    @Test
    void listingShowsWhatItShowedBeforeTheSectionWasTyped() throws Exception {
        Map<String, Object> summary = SnapshotSummary.of(fixture().loadSnapshot(BACKUP));
        // the keys and values SnapshotSummary read out of the string map, in the same place
        assertThat(List.copyOf(summary.keySet()).subList(0, 9))
                .containsExactly(
                        "id",
                        "type",
                        "startTime",
                        "stopTime",
                        "startLsn",
                        "stopLsn",
                        "timeline",
                        "pgVersion",
                        "systemIdentifier");
        assertThat(summary)
                .containsEntry("startLsn", "0/2000028")
                .containsEntry("stopLsn", "0/2000100")
                .containsEntry("timeline", 1)
                .containsEntry("pgVersion", "15.20 (Debian 15.20-0+deb12u1)")
                .containsEntry("systemIdentifier", "7715116851709977743");
    }

    @Test
    void aManifestWrittenNowHasAVersionedSectionAndReadsBackTheSame() throws Exception {
        Repository repo = fixture();
        Snapshot old = repo.loadSnapshot(BACKUP);
        String id = "20261203-170000F-0001";
        repo.saveSnapshot(new Snapshot(
                id,
                old.type(),
                old.engine(),
                old.parent(),
                old.startTime(),
                old.stopTime(),
                old.host(),
                old.sourceDirectory(),
                old.compression(),
                old.engineInfo(),
                old.tablespaces(),
                old.files(),
                old.stats()));

        JsonNode section = storedJson(repo, id).get("engineInfo");
        assertThat(section.get("engine").asText()).isEqualTo("postgresql");
        assertThat(section.get("version").isInt()).isTrue();
        assertThat(section.get("version").asInt()).isEqualTo(1);
        assertThat(section.get("pgVersionNum").isInt()).isTrue();
        assertThat(section.get("walSegmentSize").asLong()).isEqualTo(16L << 20);
        assertThat(section.get("dataChecksums").isBoolean()).isTrue();
        assertThat(section.get("timeline").isInt()).isTrue();
        assertThat(section.get("startLsn").asText()).isEqualTo("0/2000028");
        assertThat(section.get("systemIdentifier").asText()).isEqualTo("7715116851709977743");
        assertThat(section.has("pageChecksumFailures")).isFalse();

        assertThat(repo.loadSnapshot(id).engineInfo()).isEqualTo(TYPED);
        assertThat(repo.loadSnapshot(id).files()).isEqualTo(old.files());
    }

    @Test
    void theNewSectionStillReadsAsTheStringMapOfTheVersionBefore() throws Exception {
        // a Lifeboat from before the typed section (another agent, a replica region's reader) read engineInfo as a
        // map of strings: every value stays a scalar under its old name, and those it used mean the same
        Map<String, String> asOld =
                Json.MAPPER.convertValue(TYPED.toJson(), new TypeReference<Map<String, String>>() {});
        for (String key : List.of(
                "pgVersion",
                "pgVersionNum",
                "systemIdentifier",
                "walSegmentSize",
                "blockSize",
                "superuser",
                "pgdataOwner",
                "clusterId",
                "pagesChecksummed",
                "startLsn",
                "stopLsn",
                "timeline",
                "backupLabel",
                "tablespaceMap",
                "startWal")) {
            assertThat(asOld.get(key)).as(key).isEqualTo(STORED.get(key));
        }
    }

    @Test
    void theStringMapAndTheSectionAreTheSameFacts() {
        assertThat(PostgresBackupInfo.fromLegacy(STORED)).isEqualTo(TYPED);
        assertThat(PostgresBackupInfo.fromJson(TYPED.toJson())).isEqualTo(TYPED);
        assertThat(Engines.postgresql().readBackupInfo(Json.MAPPER.valueToTree(STORED)))
                .isEqualTo(TYPED);
    }

    @Test
    void olderMapsMissingKeysReadAsUnknown() {
        // before cluster ids and page checksums; and the page-LSN key of still older versions, which is dropped
        PostgresBackupInfo info = PostgresBackupInfo.fromLegacy(
                Map.of("pgVersion", "15.8", "timeline", "x", "blocksUnchangedByLsn", "7"));
        assertThat(info.clusterId()).isEqualTo(ClusterIdentity.ORIGIN);
        assertThat(info.timeline()).isZero();
        assertThat(info.startLsn()).isZero();
        assertThat(info.pagesChecksummed()).isNull();
        assertThat(info.toJson().has("blocksUnchangedByLsn")).isFalse();
        assertThat(info.toJson().has("timeline")).isFalse();
    }

    @Test
    void aSectionOfANewerVersionOrAnUnknownEngineIsRefused() throws Exception {
        Repository repo = fixture();
        ObjectNode manifest = (ObjectNode) Json.MAPPER.valueToTree(repo.loadSnapshot(BACKUP));
        ((ObjectNode) manifest.get("engineInfo")).put("version", 2);
        store(repo, "20261203-170000F-0002", manifest);
        assertThatThrownBy(() -> repo.loadSnapshot("20261203-170000F-0002"))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("version 2")
                .hasMessageContaining("upgrade Lifeboat");

        ((ObjectNode) manifest.get("engineInfo")).put("version", 1).put("engine", "mariadb");
        store(repo, "20261203-170000F-0003", manifest);
        assertThatThrownBy(() -> repo.loadSnapshot("20261203-170000F-0003"))
                .isInstanceOf(RepositoryException.Corrupt.class)
                .hasMessageContaining("engine 'mariadb' is unknown");
    }

    private static void store(Repository repo, String id, ObjectNode manifest) throws Exception {
        manifest.put("id", id);
        byte[] json = Json.MAPPER.writeValueAsBytes(manifest);
        repo.store()
                .put(
                        Repository.SNAPSHOTS + id,
                        repo.sealMetadata(
                                Compression.zstd(json, 3),
                                ("lifeboat-snapshot:" + id).getBytes(StandardCharsets.UTF_8)));
    }

    private static Map<String, String> orderedMap(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }
}
