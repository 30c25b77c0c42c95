package dev.lifeboat.engine.postgres;

import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.azure.AzureBlobStore;
import dev.lifeboat.storage.azure.AzuriteFixture;
import dev.lifeboat.storage.gcs.GcsBlobStore;
import dev.lifeboat.storage.gcs.GcsEmulatorFixture;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.storage.s3.S3BlobStore;
import dev.lifeboat.storage.s3.S3MockFixture;
import dev.lifeboat.util.Processes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The same backup and point-in-time restore on every storage backend: the local file system, S3 (S3Mock), Azure Blob
 * (Azurite) and Google Cloud Storage (the Cloud Storage emulator of firebase-tools). For each: {@code repo-init} on the
 * store, a PostgreSQL cluster whose {@code archive_command} is {@code lifeboat wal-push} into it, a full backup, rows
 * committed ~100 ms apart, and {@code restore --to-time} between two commits with {@code --validate}; the restored copy
 * must hold exactly the rows committed before the target.
 *
 * <p>How to reach a store comes from environment variables, which PostgreSQL's {@code archive_command} and
 * {@code restore_command} must see too. So the CLI runs as separate processes through a wrapper script per backend that
 * exports the store's variables and {@code LIFEBOAT_BIN} (itself, so the {@code restore_command} the restore writes
 * runs
 * the wrapper again) before it starts the test launcher. The backup itself runs in this JVM on a store opened with the
 * same settings.
 */
class ObjectStorePitrTest {
    @TempDir
    static Path tmp;

    enum Backend {
        FILE,
        S3,
        AZURE,
        GCS
    }

    /** Where the repository lives: its URI, the environment the CLI needs for it, and a store opened in this JVM. */
    private record Target(String uri, Map<String, String> env, BlobStore store) {}

    private static Target target(Backend backend, Path base) throws Exception {
        String prefix = "pitr-" + UUID.randomUUID();
        return switch (backend) {
            case FILE -> {
                Path repo = base.resolve("repo");
                yield new Target(PgTestSupport.repoUri(repo), Map.of(), new LocalBlobStore(repo));
            }
            case S3 -> {
                S3MockFixture s3 = S3MockFixture.get();
                yield new Target(
                        "s3://" + S3MockFixture.BUCKET + "/" + prefix,
                        Map.of(
                                "LIFEBOAT_S3_ENDPOINT",
                                s3.endpoint,
                                "LIFEBOAT_S3_REGION",
                                "us-east-1",
                                "AWS_ACCESS_KEY_ID",
                                "test",
                                "AWS_SECRET_ACCESS_KEY",
                                "test"),
                        new S3BlobStore(S3MockFixture.BUCKET, prefix, s3.settings()));
            }
            case AZURE -> {
                AzuriteFixture az = AzuriteFixture.get();
                yield new Target(
                        "azure://" + AzuriteFixture.CONTAINER + "/" + prefix,
                        Map.of(
                                "LIFEBOAT_AZURE_ENDPOINT",
                                az.endpoint,
                                "AZURE_STORAGE_ACCOUNT",
                                AzuriteFixture.ACCOUNT,
                                "AZURE_STORAGE_KEY",
                                AzuriteFixture.KEY),
                        new AzureBlobStore(AzuriteFixture.CONTAINER, prefix, az.settings()));
            }
            case GCS -> {
                GcsEmulatorFixture gcs = GcsEmulatorFixture.get();
                yield new Target(
                        "gs://" + GcsEmulatorFixture.BUCKET + "/" + prefix,
                        Map.of("LIFEBOAT_GCS_ENDPOINT", gcs.endpoint, "LIFEBOAT_GCS_PROJECT", "lifeboat-test"),
                        new GcsBlobStore(GcsEmulatorFixture.BUCKET, prefix, gcs.settings()));
            }
        };
    }

    /** Runs the CLI through {@code wrapper} as a separate process; returns its output, failing on a non-zero exit. */
    private static String run(Path wrapper, Path log, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(wrapper.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        if (!p.waitFor(3, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError(
                    "lifeboat " + String.join(" ", args) + " did not finish: " + Files.readString(log));
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new AssertionError(
                    "lifeboat " + String.join(" ", args) + " exited with " + p.exitValue() + ":\n" + out);
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void backupAndRestoreToATimeBetweenTwoCommits(Backend backend) throws Exception {
        Path base = Files.createDirectories(tmp.resolve(backend.name().toLowerCase()));
        Target target = target(backend, base);
        Path wrapper = TestLauncher.withEnvironment(backend.name().toLowerCase(Locale.ROOT), target.env());
        Path keyFile = PgTestSupport.keyFile(base);
        TestLauncher.shareWithPostgres(keyFile);

        run(
                wrapper,
                base.resolve("repo-init.log"),
                "repo-init",
                "--repo",
                target.uri(),
                "--key-file",
                keyFile.toString());
        if (backend == Backend.FILE && Processes.isRoot()) {
            // archive_command runs as postgres
            TestLauncher.shareWithPostgres(base.resolve("repo"));
            Processes.check(
                    List.of("chown", "-R", "postgres", base.resolve("repo").toString()), Duration.ofSeconds(30));
        }
        record Tick(long id, Instant committed) {}
        List<Tick> ticks = new ArrayList<>();
        try (LocalCluster pg = LocalCluster.create(
                        base.resolve("pg"),
                        List.of(
                                "archive_mode = on",
                                "archive_command = '" + wrapper + " wal-push --repo " + target.uri() + " --key-file "
                                        + keyFile + " %p'",
                                "track_commit_timestamp = on"));
                BlobStore store = target.store()) {
            pg.start();
            exec(pg, "create table ticks (id bigint primary key, note text)");
            Repository repo = Repository.open(store, KeySource.KeyFile.read(keyFile));
            new PgBackup(
                            repo,
                            new PgBackupOptions(pg.dataDir(), null, null, "postgres", "full", Compression.LOW, 2),
                            null,
                            new Cancellation())
                    .run();

            try (Connection c = pg.connect("postgres");
                    PreparedStatement ins = c.prepareStatement("insert into ticks values (?, 'tick')");
                    Statement st = c.createStatement()) {
                for (long id = 1; id <= 10; id++) {
                    ins.setLong(1, id);
                    ins.executeUpdate();
                    try (ResultSet rs =
                            st.executeQuery("select pg_xact_commit_timestamp(xmin) from ticks where id = " + id)) {
                        rs.next();
                        ticks.add(new Tick(id, rs.getTimestamp(1).toInstant()));
                    }
                    Thread.sleep(100);
                }
                st.execute("select pg_switch_wal()");
                String last = PitrTest.one(st, "select pg_walfile_name(pg_current_wal_lsn() - 1)");
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (System.nanoTime() < deadline) {
                    String archived = PitrTest.one(st, "select coalesce(last_archived_wal, '') from pg_stat_archiver");
                    if (!archived.isEmpty() && archived.compareTo(last) >= 0) {
                        break;
                    }
                    Thread.sleep(200);
                }
                assertThat(PitrTest.one(st, "select last_archived_wal from pg_stat_archiver"))
                        .as("archived through " + backend)
                        .isGreaterThanOrEqualTo(last);
                assertThat(PitrTest.one(st, "select failed_count::text from pg_stat_archiver"))
                        .isEqualTo("0");
            }
        }

        Tick a = ticks.get(4);
        Tick b = ticks.get(5);
        Instant between = a.committed()
                .plus(Duration.between(a.committed(), b.committed()).dividedBy(2));
        Path restored = base.resolve("restore");
        String out = run(
                wrapper,
                base.resolve("restore.log"),
                "restore",
                "--repo",
                target.uri(),
                "--key-file",
                keyFile.toString(),
                "--target",
                restored.resolve("data").toString(),
                "--validate",
                "-q",
                "--to-time",
                between.toString());
        assertThat(out).contains("validation passed");
        try (LocalCluster copy = LocalCluster.attach(restored)) {
            copy.start();
            assertThat(PgTestSupport.count(copy, "select pg_is_in_recovery()::int"))
                    .isZero();
            List<Long> ids = new ArrayList<>();
            try (Connection c = copy.connect("postgres");
                    Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("select id from ticks order by id")) {
                while (rs.next()) {
                    ids.add(rs.getLong(1));
                }
            }
            assertThat(ids)
                    .as(backend + ": rows committed before " + between)
                    .isEqualTo(PgTestSupport.range(1, a.id()));
        }
    }
}
