package dev.lifeboat.storage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.engine.postgres.TestLauncher;
import dev.lifeboat.storage.azure.AzuriteFixture;
import dev.lifeboat.storage.s3.S3MockFixture;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a newcomer meets first, through the real launcher against the test servers: {@code repo-init} on a bucket or
 * container that does not exist says to add {@code --create}, and with it creates one; an Azure endpoint without the
 * account path (Azurite needs {@code /devstoreaccount1}) is refused with the fix.
 */
class RepoInitCreateTest {
    @TempDir
    Path tmp;

    private record Run(int exit, String output) {}

    private Run lifeboat(Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(TestLauncher.install().toString()));
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile(tmp, "lifeboat-", ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("lifeboat " + String.join(" ", args) + " did not finish");
        }
        return new Run(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }

    @Test
    void s3BucketIsCreatedOnlyWhenAsked() throws Exception {
        S3MockFixture s3 = S3MockFixture.get();
        Map<String, String> env = Map.of(
                "LIFEBOAT_S3_ENDPOINT", s3.endpoint,
                "LIFEBOAT_S3_REGION", "us-east-1",
                "AWS_ACCESS_KEY_ID", "test",
                "AWS_SECRET_ACCESS_KEY", "test");
        String uri = "s3://fresh-" + UUID.randomUUID().toString().substring(0, 8) + "/pg/main";

        Run without = lifeboat(env, "repo-init", "--repo", uri, "--no-encryption");
        assertThat(without.exit()).as(without.output()).isEqualTo(1);
        assertThat(without.output()).contains("NoSuchBucket").contains("repo-init --create creates it");

        Run with = lifeboat(env, "repo-init", "--repo", uri, "--no-encryption", "--create");
        assertThat(with.exit()).as(with.output()).isZero();
        assertThat(with.output())
                .contains("created the bucket or container of " + uri)
                .contains("created repository");
        Run list = lifeboat(env, "list", "--repo", uri);
        assertThat(list.exit()).as(list.output()).isZero();

        Run again = lifeboat(
                env,
                "repo-init",
                "--repo",
                uri.replace("/pg/main", "/pg/other"),
                "--no-encryption",
                "--create",
                "--json");
        assertThat(again.exit()).as(again.output()).isZero();
        assertThat(again.output()).contains("\"createdContainer\" : false");
    }

    @Test
    void azureContainerIsCreatedWhenAskedAndABareEmulatorEndpointIsExplained() throws Exception {
        AzuriteFixture az = AzuriteFixture.get();
        Map<String, String> env = Map.of(
                "LIFEBOAT_AZURE_ENDPOINT", az.endpoint,
                "AZURE_STORAGE_ACCOUNT", AzuriteFixture.ACCOUNT,
                "AZURE_STORAGE_KEY", AzuriteFixture.KEY);
        String uri = "azure://fresh-" + UUID.randomUUID().toString().substring(0, 8) + "/pg/main";

        Run without = lifeboat(env, "repo-init", "--repo", uri, "--no-encryption");
        assertThat(without.exit()).as(without.output()).isEqualTo(1);
        assertThat(without.output()).contains("ContainerNotFound").contains("repo-init --create creates it");
        Run with = lifeboat(env, "repo-init", "--repo", uri, "--no-encryption", "--create");
        assertThat(with.exit()).as(with.output()).isZero();
        assertThat(with.output()).contains("created the bucket or container of " + uri);

        String bare = az.endpoint.replaceAll("/" + AzuriteFixture.ACCOUNT + "/?$", "");
        Map<String, String> bareEnv = Map.of(
                "LIFEBOAT_AZURE_ENDPOINT", bare,
                "AZURE_STORAGE_ACCOUNT", AzuriteFixture.ACCOUNT,
                "AZURE_STORAGE_KEY", AzuriteFixture.KEY);
        Run noAccount = lifeboat(bareEnv, "list", "--repo", uri);
        assertThat(noAccount.exit()).as(noAccount.output()).isNotZero();
        assertThat(noAccount.output())
                .contains("names no storage account")
                .contains(bare + "/" + AzuriteFixture.ACCOUNT);
    }
}
