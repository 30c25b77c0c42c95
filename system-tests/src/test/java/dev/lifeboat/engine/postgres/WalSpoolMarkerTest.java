package dev.lifeboat.engine.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The async pusher's {@code out/<name>.ok} marker is trusted only for the exact file it archived, by the pusher and by
 * the launcher's fast path ({@code bin/lifeboat}, run for real from a copy of the checkout's script). WAL is a real
 * segment from initdb; the data directory is real but its server is not running (the pusher reads pg_wal itself).
 * The launcher copy sits next to an empty placeholder jar and a {@code find-java} that names a wrapper: the wrapper
 * records that the JVM path was taken and runs the real CLI from the test class path.
 */
class WalSpoolMarkerTest {
    @TempDir
    Path tmp;

    private Path spool;

    @AfterEach
    void stopSpawnedPusher() throws Exception {
        // the JVM path starts a background pusher that idles 30 s: end exactly that one (its arguments name our
        // spool; read from /proc whole, as ProcessHandle cuts a long command line before them). Scan until two scans
        // in a row, half a second apart, find nothing: a survivor would take the spool's lock from this test's own
        // pusher and write into the temp dir while JUnit deletes it
        if (spool == null) {
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int quiet = 0;
        while (quiet < 2 && System.nanoTime() < deadline) {
            List<ProcessHandle> found =
                    ProcessHandle.allProcesses().filter(this::isOurPusher).toList();
            quiet = found.isEmpty() ? quiet + 1 : 0;
            for (ProcessHandle p : found) {
                p.destroy();
                try {
                    p.onExit().get(10, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    p.destroyForcibly();
                }
            }
            Thread.sleep(500);
        }
    }

    private boolean isOurPusher(ProcessHandle p) {
        try {
            byte[] cmdline = Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline"));
            return List.of(new String(cmdline, StandardCharsets.UTF_8).split("\0"))
                    .contains("--spool-dir=" + spool);
        } catch (IOException e) {
            return false; // gone meanwhile
        }
    }

    @Test
    void aMarkerIsTrustedOnlyForTheFileItWasWrittenFor() throws Exception {
        Path keyFile = PgTestSupport.keyFile(tmp);
        String uri = PgTestSupport.repoUri(tmp.resolve("repo"));
        assertThat(PgTestSupport.cli("repo-init", "--repo", uri, "--key-file", keyFile.toString())
                        .exitCode())
                .isZero();
        Repository repo = Repository.open(new LocalBlobStore(tmp.resolve("repo")), KeySource.KeyFile.read(keyFile));
        try (LocalCluster pg = LocalCluster.create(tmp.resolve("pg"), List.of())) {
            Path pgdata = pg.dataDir();
            Path pgWal = pgdata.resolve("pg_wal");
            String name = "000000010000000000000001";
            Path file = pgWal.resolve(name);
            byte[] original = Files.readAllBytes(file);
            Files.createDirectories(pgWal.resolve("archive_status"));
            Files.writeString(pgWal.resolve("archive_status").resolve(name + ".ready"), "");
            spool = tmp.resolve("spool");
            WalSpool ws = new WalSpool(spool);

            // the pusher archives the ready segment and marks it with the file's fingerprint
            ws.runPusher(repo, pgWal, pgdata, 2, Duration.ofSeconds(1));
            assertThat(new WalArchive(repo).read(name))
                    .hasValueSatisfying(b -> assertThat(b).isEqualTo(original));
            String identity = WalSpool.identity(repo, null);
            assertThat(Files.readString(ws.okMarker(name))).isEqualTo(WalSpool.fingerprint(file) + " " + identity);
            assertThat(WalSpool.fingerprint(file)).matches("\\d+:\\d+:16777216:\\d+\\.\\d{9}");

            // with no pusher running, wal-push --async takes the matching marker (fingerprint and repository)
            Launcher lb = new Launcher(tmp.resolve("lb"));
            Launcher.Run fast = lb.walPush(pgdata, spool, uri, keyFile, name);
            assertThat(fast.exit()).as(fast.output()).isZero();
            assertThat(ws.okMarker(name)).doesNotExist();
            stopSpawnedPusher();

            // the file is replaced by other contents under the same name; the marker of the old one is back
            ws.runPusher(repo, pgWal, pgdata, 2, Duration.ofSeconds(1));
            String oldFingerprint = Files.readString(ws.okMarker(name));
            byte[] other = original.clone();
            for (int i = 1 << 20; i < (1 << 20) + 4096; i++) {
                other[i] ^= 0x5a;
            }
            Path replacement = pgWal.resolve(name + ".new");
            Files.write(replacement, other);
            Files.move(replacement, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            assertThat(WalSpool.fingerprint(file)).isNotEqualTo(oldFingerprint);

            // the pusher does not skip it for its stale marker: it archives it again, which is refused
            ws.runPusher(repo, pgWal, pgdata, 2, Duration.ofSeconds(1));
            assertThat(ws.errorMarker(name)).exists();
            assertThat(Files.readString(ws.errorMarker(name)))
                    .contains("different content")
                    .contains(name);
            assertThat(ws.okMarker(name)).as("the stale marker is gone").doesNotExist();

            // wal-push does not take the stale marker: it has the file archived again, which reports the refusal
            Files.delete(ws.errorMarker(name));
            Files.writeString(ws.okMarker(name), oldFingerprint);
            Launcher.Run slow = lb.walPush(pgdata, spool, uri, keyFile, name);
            assertThat(slow.exit()).as(slow.output()).isEqualTo(1);
            assertThat(slow.output()).contains("different content");
            assertThat(new WalArchive(repo).read(name))
                    .as("the archive keeps the original")
                    .hasValueSatisfying(b -> assertThat(b).isEqualTo(original));
        }
    }

    /** A copy of {@code bin/lifeboat} whose JVM is the test class path (see the class comment). */
    static final class Launcher {
        record Run(int exit, String output, boolean jvmStarted) {}

        final Path home;
        final Path script;
        final Path jvmMark;

        Launcher(Path home) throws Exception {
            this.home = home;
            Path bin = Files.createDirectories(home.resolve("bin"));
            script = bin.resolve("lifeboat");
            Files.copy(TestLauncher.checkout().resolve("bin/lifeboat"), script);
            Files.createDirectories(home.resolve("cli/target"));
            Files.write(home.resolve("cli/target/lifeboat.jar"), new byte[0]);
            jvmMark = home.resolve("jvm-started");
            Path java = bin.resolve("java-wrapper");
            Files.writeString(
                    java,
                    "#!/bin/sh\ntouch '" + jvmMark + "'\n"
                            + "while [ $# -gt 0 ] && [ \"$1\" != -jar ]; do shift; done\nshift 2\n"
                            + "exec '" + TestLauncher.install() + "' \"$@\"\n",
                    StandardCharsets.UTF_8);
            Files.writeString(bin.resolve("find-java"), "#!/bin/sh\necho '" + java + "'\n", StandardCharsets.UTF_8);
            for (Path p : List.of(script, java, bin.resolve("find-java"))) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
        }

        /** {@code lifeboat wal-push --async} as archive_command runs it: in PGDATA, with %p = pg_wal/NAME. */
        Run walPush(Path pgdata, Path spool, String uri, Path keyFile, String name) throws Exception {
            return walPush(pgdata, spool, uri, keyFile, name, true);
        }

        /** {@code lifeboat wal-push [--async] --spool-dir …} as archive_command runs it. */
        Run walPush(Path pgdata, Path spool, String uri, Path keyFile, String name, boolean async) throws Exception {
            Files.deleteIfExists(jvmMark);
            Path out = home.resolve("out.log");
            List<String> cmd = new ArrayList<>(List.of(script.toString(), "wal-push"));
            if (async) {
                cmd.add("--async");
            }
            cmd.addAll(List.of(
                    "--spool-dir",
                    spool.toString(),
                    "--repo",
                    uri,
                    "--key-file",
                    keyFile.toString(),
                    "pg_wal/" + name));
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .directory(pgdata.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(out.toFile());
            pb.environment().put("XDG_CACHE_HOME", home.resolve("cache").toString());
            pb.environment().remove("LIFEBOAT_JAVA_OPTS");
            Process p = pb.start();
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("wal-push ended").isTrue();
            return new Run(p.exitValue(), Files.readString(out), Files.exists(jvmMark));
        }
    }
}
