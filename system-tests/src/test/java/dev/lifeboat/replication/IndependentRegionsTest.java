package dev.lifeboat.replication;

import static dev.lifeboat.engine.postgres.PgTestSupport.exec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobContainerClientBuilder;
import com.azure.storage.blob.sas.BlobContainerSasPermission;
import com.azure.storage.blob.sas.BlobServiceSasSignatureValues;
import com.azure.storage.common.StorageSharedKeyCredential;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.TestLauncher;
import dev.lifeboat.engine.postgres.TestLauncher.Run;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.FaultInjectingProxy;
import dev.lifeboat.storage.azure.AzureBlobStore;
import dev.lifeboat.storage.azure.AzureSettings;
import dev.lifeboat.storage.azure.AzuriteFixture;
import dev.lifeboat.storage.s3.S3BlobStore;
import dev.lifeboat.storage.s3.S3MockFixture;
import dev.lifeboat.storage.s3.S3Settings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three regions, three credential sets, through the real launcher: the primary in one S3 endpoint with its keys (from
 * the environment), region eu in a second S3 endpoint with keys of its own (the key id from a variable, the secret from
 * a file), region az in an Azure account of its own (its key from a file). S3Mock takes any key, so each S3 endpoint is
 * a proxy that refuses requests not signed with its key; Azurite checks shared-key signatures itself.
 *
 * <p>Then the ransomware drill: with only the primary's credentials an attacker deletes the primary repository and
 * tries to delete the copies, which the regions' endpoints refuse; a restore from region az alone, with nothing of the
 * primary's settings in its environment, validates and holds every committed row.
 */
class IndependentRegionsTest {
    @TempDir
    Path tmp;

    @Test
    void threeCredentialSetsReplicateAndARegionAloneRestoresAfterThePrimaryIsDeleted() throws Exception {
        S3MockFixture s3 = S3MockFixture.get();
        AzuriteFixture az = AzuriteFixture.get();
        String id = UUID.randomUUID().toString().substring(0, 8);
        String primaryBucket = "primary-" + id;
        String euBucket = "dr-eu-" + id;
        String azContainer = "dr-az-" + id;
        try (FaultInjectingProxy primaryEndpoint =
                        new FaultInjectingProxy(s3.endpoint).requireAccessKey("primary-key");
                FaultInjectingProxy euEndpoint = new FaultInjectingProxy(s3.endpoint).requireAccessKey("eu-key");
                S3BlobStore eu = new S3BlobStore(euBucket, "", s3.settings());
                AzureBlobStore azStore = new AzureBlobStore(
                        azContainer,
                        "",
                        AzureSettings.sharedKey(az.drEndpoint(), AzuriteFixture.DR_ACCOUNT, AzuriteFixture.DR_KEY))) {

            Path euSecret = secretFile("eu.secret", "eu-secret-access-key");
            Path azKey = secretFile("az.key", AzuriteFixture.DR_KEY);
            Path replication = tmp.resolve("replication.json");
            Files.writeString(replication, """
                    {"regions": [
                      {"name": "eu", "region": "eu-central", "uri": "s3://%s/pg/main", "store": {
                         "endpoint": "%s", "region": "eu-central-1",
                         "accessKeyId": "env:DR_EU_KEY_ID", "secretAccessKey": "file:%s"}},
                      {"name": "az", "region": "west-europe", "uri": "azure://%s/pg/main", "store": {
                         "endpoint": "%s", "account": "%s", "accountKey": "file:%s"}}
                    ]}""".formatted(
                            euBucket,
                            euEndpoint.endpoint(),
                            euSecret,
                            azContainer,
                            az.drEndpoint(),
                            AzuriteFixture.DR_ACCOUNT,
                            azKey));
            TestLauncher.shareWithPostgres(replication);

            Map<String, String> primaryEnv = Map.of(
                    "LIFEBOAT_S3_ENDPOINT", primaryEndpoint.endpoint(),
                    "LIFEBOAT_S3_REGION", "us-east-1",
                    "AWS_ACCESS_KEY_ID", "primary-key",
                    "AWS_SECRET_ACCESS_KEY", "primary-secret");
            Map<String, String> replicatorEnv = new LinkedHashMap<>(primaryEnv);
            replicatorEnv.put("DR_EU_KEY_ID", "eu-key");
            Path primaryLauncher = TestLauncher.withEnvironment("primary", primaryEnv);
            String primary = "s3://" + primaryBucket + "/pg/main";
            Path keyFile = PgTestSupport.keyFile(tmp);
            TestLauncher.shareWithPostgres(keyFile);

            Run init = run(primaryEnv, "repo-init", "--repo", primary, "--key-file", keyFile.toString(), "--create");
            assertThat(init.exit()).as(init.output()).isZero();
            List<Long> committed = new ArrayList<>();
            try (LocalCluster pg = LocalCluster.create(
                    tmp.resolve("pg"),
                    List.of(
                            "archive_mode = on",
                            "archive_command = '" + primaryLauncher + " wal-push --repo " + primary + " --key-file "
                                    + keyFile + " %p'"))) {
                pg.start();
                exec(pg, "create table t (id bigint primary key, at timestamptz default now())");
                Run backup = run(
                        primaryEnv,
                        "backup",
                        "--repo",
                        primary,
                        "--key-file",
                        keyFile.toString(),
                        "--pgdata",
                        pg.dataDir().toString(),
                        "-q");
                assertThat(backup.exit()).as(backup.output()).isZero();
                for (long i = 1; i <= 30; i++) {
                    exec(pg, "insert into t (id) values (" + i + ")");
                    committed.add(i);
                }
                PgTestSupport.drainArchive(pg);
            }

            // the replicator's host holds the primary's credentials and each region's own
            Run once = run(
                    replicatorEnv,
                    "replication",
                    "run",
                    "--once",
                    "--create",
                    "--repo",
                    primary,
                    "--replication",
                    replication.toString());
            assertThat(once.exit()).as(once.output()).isZero();
            assertThat(once.output())
                    .as("--create made each region's bucket or container with the region's credentials")
                    .contains("eu: created s3://" + euBucket)
                    .contains("az: created azure://" + azContainer);
            assertThat(euEndpoint.refused())
                    .as("requests to eu signed with another key")
                    .isZero();
            assertThat(eu.list("pg/main/wal/")).isNotEmpty();
            assertThat(azStore.list("pg/main/snapshots/")).isNotEmpty();
            Run verify = run(
                    replicatorEnv, "replication", "verify", "--repo", primary, "--replication", replication.toString());
            assertThat(verify.exit()).as(verify.output()).isZero();

            // the attacker: the primary's keys, and the regions' endpoints and names (the config is no secret)
            S3Settings stolen = S3Settings.defaults()
                    .withEndpoint(primaryEndpoint.endpoint(), "us-east-1", true)
                    .withStaticCredentials("primary-key", "primary-secret");
            try (S3BlobStore victim = new S3BlobStore(primaryBucket, "", stolen)) {
                for (BlobInfo b : victim.list("")) {
                    victim.delete(b.key());
                }
                assertThat(victim.list("")).as("the primary repository is gone").isEmpty();
            }
            try (S3BlobStore euWithStolenKeys =
                    new S3BlobStore(euBucket, "", stolen.withEndpoint(euEndpoint.endpoint(), "us-east-1", true))) {
                assertThatThrownBy(() -> euWithStolenKeys.delete("pg/main/config"))
                        .hasMessageContaining("AccessDenied");
                assertThatThrownBy(
                                () -> euWithStolenKeys.put("pg/main/config", "ransom".getBytes(StandardCharsets.UTF_8)))
                        .hasMessageContaining("AccessDenied");
            }
            try (AzureBlobStore azWithStolenKey = new AzureBlobStore(
                    azContainer,
                    "pg/main",
                    AzureSettings.sharedKey(az.drEndpoint(), AzuriteFixture.DR_ACCOUNT, AzuriteFixture.KEY))) {
                assertThatThrownBy(() -> azWithStolenKey.delete("config")).hasMessageContaining("403");
            }
            assertThat(eu.stat("pg/main/config")).as("eu's copy untouched").isPresent();

            // the drill: region az alone, nothing of the primary's in the environment, and for az only a SAS that may
            // read and list (what the restore host's role needs: a restore takes no lock and no lease in a region)
            Map<String, String> drEnv = Map.of();
            Path readOnlySas = secretFile("az-read.sas", readListSas(az, azContainer));
            try (AzureBlobStore azReadOnly = new AzureBlobStore(
                    azContainer,
                    "pg/main",
                    AzureSettings.sas(
                            az.drEndpoint(), Files.readString(readOnlySas).strip()))) {
                assertThat(azReadOnly.list("snapshots/")).as("the SAS may list").isNotEmpty();
                assertThatThrownBy(() -> azReadOnly.put("locks/probe", new byte[1]))
                        .as("the SAS may not write")
                        .hasMessageContaining("403");
            }
            Path drHostReplication = tmp.resolve("dr-host-replication.json");
            Files.writeString(drHostReplication, """
                    {"regions": [
                      {"name": "az", "region": "west-europe", "uri": "azure://%s/pg/main", "store": {
                         "endpoint": "%s", "sasToken": "file:%s"}}
                    ]}""".formatted(azContainer, az.drEndpoint(), readOnlySas));
            TestLauncher.shareWithPostgres(drHostReplication);
            Run list = run(
                    drEnv,
                    "list",
                    "--replication",
                    drHostReplication.toString(),
                    "--from-region",
                    "az",
                    "--key-file",
                    keyFile.toString());
            assertThat(list.exit()).as(list.output()).isZero();
            Path target = tmp.resolve("restored");
            Run restore = run(
                    drEnv,
                    "restore",
                    "--replication",
                    drHostReplication.toString(),
                    "--from-region",
                    "az",
                    "--key-file",
                    keyFile.toString(),
                    "--target",
                    target.resolve("data").toString(),
                    "--to-latest",
                    "--validate",
                    "-q");
            assertThat(restore.exit()).as(restore.output()).isZero();
            assertThat(restore.output()).contains("validation passed");
            assertThat(azStore.list("pg/main/locks/"))
                    .as("the restore and its replay left no lock or lease in the region")
                    .isEmpty();
            Run unlock = run(drEnv, "unlock", "--replication", drHostReplication.toString(), "--from-region", "az");
            assertThat(unlock.exit()).as(unlock.output()).isNotZero();
            assertThat(unlock.output()).contains("take no lock or lease there");
            try (LocalCluster restored = LocalCluster.attach(target)) {
                restored.start();
                assertThat(PgTestSupport.count(restored, "select count(*) from t"))
                        .isEqualTo(committed.size());
            }
            // the other region, with its key id from the environment alone
            Run euList = run(
                    Map.of("DR_EU_KEY_ID", "eu-key"),
                    "list",
                    "--replication",
                    replication.toString(),
                    "--from-region",
                    "eu",
                    "--key-file",
                    keyFile.toString());
            assertThat(euList.exit()).as(euList.output()).isZero();
            assertThat(euList.output()).isEqualTo(list.output());

            // a region is the replicator's copy: commands that write the repository refuse it
            Run stop = run(
                    replicatorEnv,
                    "replication",
                    "stop",
                    "--replication",
                    replication.toString(),
                    "--from-region",
                    "eu");
            assertThat(stop.exit()).as(stop.output()).isNotZero();
            assertThat(stop.output())
                    .contains("replication writes the repository")
                    .contains("not on region eu");
            Run backupToRegion = run(
                    drEnv,
                    "backup",
                    "--replication",
                    replication.toString(),
                    "--from-region",
                    "az",
                    "--key-file",
                    keyFile.toString(),
                    "--pgdata",
                    target.resolve("data").toString());
            assertThat(backupToRegion.exit()).as(backupToRegion.output()).isNotZero();
            assertThat(backupToRegion.output()).contains("backup writes the repository");
        }
    }

    /** A service SAS on the region's container that may read and list, nothing else, valid for an hour. */
    private static String readListSas(AzuriteFixture az, String container) {
        BlobContainerClient c = new BlobContainerClientBuilder()
                .endpoint(az.drEndpoint())
                .containerName(container)
                .credential(new StorageSharedKeyCredential(AzuriteFixture.DR_ACCOUNT, AzuriteFixture.DR_KEY))
                .buildClient();
        return c.generateSas(new BlobServiceSasSignatureValues(
                OffsetDateTime.now().plusHours(1),
                new BlobContainerSasPermission().setReadPermission(true).setListPermission(true)));
    }

    /** A secret in a file the postgres user can read (restore_command runs as it), as an operator would keep it. */
    private Path secretFile(String name, String secret) throws IOException {
        Path f = tmp.resolve(name);
        Files.writeString(f, secret + "\n");
        TestLauncher.shareWithPostgres(f);
        return f;
    }

    private Run run(Map<String, String> env, String... args) throws Exception {
        return TestLauncher.run(env, tmp, args);
    }
}
