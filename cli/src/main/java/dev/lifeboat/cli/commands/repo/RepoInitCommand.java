package dev.lifeboat.cli.commands.repo;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RepositoryConfig;
import dev.lifeboat.repository.crypto.KeySource;
import java.io.Console;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "repo-init",
        description = "Create a new, empty repository. The passphrase comes from LIFEBOAT_PASSPHRASE "
                + "(or a prompt), or use --key-file (created with 256 random bits if it does not exist).")
public final class RepoInitCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Mixin
    OutputOptions output;

    @Option(names = "--no-encryption", description = "Create an unencrypted repository (integrity is still checked).")
    boolean noEncryption;

    @Option(
            names = "--create",
            description = "Create the bucket or container first when it does not exist (S3: in the client's "
                    + "region; GCS: the project's default location). Without it, a missing one is an error.")
    boolean create;

    @Override
    public Integer call() throws Exception {
        repo.refuseFromRegion("repo-init");
        KeySource source = null;
        boolean createdKeyFile = false;
        Path keyFile = repo.keyFile();
        if (!noEncryption) {
            if (keyFile != null) {
                if (Files.exists(keyFile)) {
                    source = KeySource.KeyFile.read(keyFile);
                } else {
                    source = KeySource.KeyFile.create(keyFile);
                    createdKeyFile = true;
                }
            } else {
                String pass = System.getenv("LIFEBOAT_PASSPHRASE");
                if (pass != null && !pass.isEmpty()) {
                    source = new KeySource.Passphrase(pass.toCharArray());
                } else if (System.console() != null) {
                    Console c = System.console();
                    char[] a = c.readPassword("New repository passphrase: ");
                    char[] b = c.readPassword("Repeat passphrase: ");
                    if (a == null || !Arrays.equals(a, b)) {
                        throw new IllegalArgumentException("the passphrases do not match");
                    }
                    source = new KeySource.Passphrase(a);
                } else {
                    throw new IllegalArgumentException(
                            "an encrypted repository needs a passphrase (set LIFEBOAT_PASSPHRASE) "
                                    + "or --key-file FILE; pass --no-encryption to create an unencrypted one");
                }
            }
        }
        boolean createdContainer = create && repo.store().createContainer();
        RepositoryConfig config;
        try {
            config = Repository.init(repo.store(), source, noEncryption);
        } catch (IOException e) {
            String m = String.valueOf(e.getMessage());
            if (!create
                    && (m.contains("NoSuchBucket")
                            || m.contains("ContainerNotFound")
                            || m.contains("bucket does " + "not exist"))) {
                throw new IOException(m + " (repo-init --create creates it)", e);
            }
            throw e;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("repository", repo.store().uri());
        out.put("id", config.id());
        out.put("encryption", config.cipher());
        if (source != null) {
            out.put("key", source.kind());
        }
        if (createdKeyFile) {
            out.put("keyFile", keyFile.toAbsolutePath().toString());
        }
        if (create) {
            out.put("createdContainer", createdContainer);
        }
        if (output.json()) {
            output.printJson(out);
        } else {
            if (createdContainer) {
                System.out.println(
                        "created the bucket or container of " + repo.store().uri());
            }
            System.out.println(
                    "created repository " + config.id() + " at " + repo.store().uri() + " (encryption: "
                            + config.cipher() + (source == null ? "" : ", key: " + source.kind()) + ")");
            if (createdKeyFile) {
                System.out.println("wrote a new key file to " + keyFile.toAbsolutePath()
                        + " — keep a copy away from the repository: without it the backups cannot be read");
            }
        }
        return 0;
    }
}
