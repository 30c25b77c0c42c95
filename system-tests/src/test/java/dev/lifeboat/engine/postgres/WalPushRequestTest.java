package dev.lifeboat.engine.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * archive_command answered by a running pusher through the launcher's loopback request ({@code bin/lifeboat}, run
 * for real; see {@link WalSpoolMarkerTest.Launcher}): no JVM per segment, OK only once the file is durable, and
 * only for the very file archive_command named. WAL is a real segment of a real (stopped) cluster.
 */
class WalPushRequestTest {
    @TempDir
    Path tmp;

    @AfterEach
    void stopSpawnedPusher() {
        // the JVM path starts a pusher that idles 30 s: end exactly that one (its command names our spool)
        String mine = "--spool-dir=" + tmp.resolve("spool");
        ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().map(c -> c.contains(mine)).orElse(false))
                .forEach(p -> {
                    p.destroy();
                    p.onExit().orTimeout(10, TimeUnit.SECONDS).join();
                });
    }

    @Test
    void aRunningPusherAnswersArchiveCommandWithoutAJvmOnlyForItsOwnRepositoryAndFile() throws Exception {
        Path keyFile = PgTestSupport.keyFile(tmp);
        String uri = PgTestSupport.repoUri(tmp.resolve("repo"));
        String uri2 = PgTestSupport.repoUri(tmp.resolve("repo2"));
        for (String u : List.of(uri, uri2)) {
            assertThat(PgTestSupport.cli("repo-init", "--repo", u, "--key-file", keyFile.toString())
                            .exitCode())
                    .isZero();
        }
        Repository repo = Repository.open(new LocalBlobStore(tmp.resolve("repo")), KeySource.KeyFile.read(keyFile));
        Repository repo2 = Repository.open(new LocalBlobStore(tmp.resolve("repo2")), KeySource.KeyFile.read(keyFile));
        try (LocalCluster pg = LocalCluster.create(tmp.resolve("pg"), List.of())) {
            Path pgdata = pg.dataDir();
            Path pgWal = pgdata.resolve("pg_wal");
            String name = "000000010000000000000001";
            byte[] original = Files.readAllBytes(pgWal.resolve(name));
            Files.createDirectories(pgWal.resolve("archive_status"));
            Path ready = pgWal.resolve("archive_status").resolve(name + ".ready");
            Files.writeString(ready, "");
            Path spool = tmp.resolve("spool");
            WalSpool ws = new WalSpool(spool);

            // a pusher that archives only what it is asked for, as synchronous archiving runs it, started without
            // a settings key: it serves none until a JVM run of wal-push binds one to its repository
            CompletableFuture<Void> pusher = CompletableFuture.runAsync(() -> {
                try {
                    ws.runPusher(
                            repo,
                            pgWal,
                            pgdata,
                            2,
                            Duration.ofSeconds(60),
                            new WalSpool.Serving(null, null, false, true));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Path portFile = spool.resolve("push.port");
            for (int i = 0; i < 500 && !Files.exists(portFile); i++) {
                Thread.sleep(10);
            }
            assertThat(Files.getPosixFilePermissions(portFile))
                    .as("only the cluster's user may ask or answer")
                    .isEqualTo(PosixFilePermissions.fromString("rw-------"));
            assertThat(new WalArchive(repo).read(name))
                    .as("nothing archived before it is asked")
                    .isEmpty();

            WalSpoolMarkerTest.Launcher lb = new WalSpoolMarkerTest.Launcher(tmp.resolve("lb"));
            WalSpoolMarkerTest.Launcher.Run first = lb.walPush(pgdata, spool, uri, keyFile, name, false);
            assertThat(first.exit()).as(first.output()).isZero();
            assertThat(first.jvmStarted())
                    .as("these settings were not bound yet")
                    .isTrue();
            WalSpoolMarkerTest.Launcher.Run fast = lb.walPush(pgdata, spool, uri, keyFile, name, false);
            assertThat(fast.exit()).as(fast.output()).isZero();
            assertThat(fast.jvmStarted()).as("answered by the pusher").isFalse();
            assertThat(new WalArchive(repo).read(name))
                    .as("durable when the answer came")
                    .hasValueSatisfying(b -> assertThat(b).isEqualTo(original));

            // what the pusher refuses: another user's request, unbound settings, another version of the file,
            // another cluster's pg_wal, a file PostgreSQL has not marked ready
            String[] port = Files.readString(portFile).strip().split(" ");
            String fp = WalSpool.fingerprint(pgWal.resolve(name));
            String walDir = pgWal.toRealPath().toString();
            String key = "k".repeat(64);
            WalSpool.bindPusher(spool, key, WalSpool.identity(repo, null));
            assertThat(ask(port[0], "PUSH 00 " + key + " " + name + " " + fp + " " + walDir))
                    .containsExactly("ERR wrong token");
            assertThat(ask(port[0], "PUSH " + port[1] + " " + "u".repeat(64) + " " + name + " " + fp + " " + walDir))
                    .containsExactly("ACK", "ERR settings not yet bound to this pusher's repository");
            assertThat(ask(port[0], "PUSH " + port[1] + " " + key + " " + name + " 1:2:16777216:3.0 " + walDir)
                            .get(1))
                    .contains("not the file archive_command named");
            assertThat(ask(port[0], "PUSH " + port[1] + " " + key + " " + name + " " + fp + " " + tmp)
                            .get(1))
                    .startsWith("ERR this pusher serves");
            Files.delete(ready);
            assertThat(ask(port[0], "PUSH " + port[1] + " " + key + " " + name + " " + fp + " " + walDir)
                            .get(1))
                    .contains("is not marked ready");
            Files.writeString(ready, "");
            assertThat(ask(port[0], "PUSH " + port[1] + " " + key + " " + name + " " + fp + " " + walDir))
                    .containsExactly("ACK", "OK " + port[2]);

            // archive_command now names another repository: its JVM run binds its settings there, which this pusher
            // refuses and stops for, and the file goes to the new repository
            WalSpoolMarkerTest.Launcher.Run moved = lb.walPush(pgdata, spool, uri2, keyFile, name, false);
            assertThat(moved.exit()).as(moved.output()).isZero();
            assertThat(moved.jvmStarted()).isTrue();
            pusher.get(30, TimeUnit.SECONDS);
            assertThat(new WalArchive(repo2).read(name))
                    .hasValueSatisfying(b -> assertThat(b).isEqualTo(original));

            // a stale port file whose port another process answers is not believed: it cannot sign the answer
            stopSpawnedPusher();
            for (int i = 0; i < 500 && Files.exists(portFile); i++) {
                Thread.sleep(10);
            }
            try (ServerSocket fake = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
                Files.writeString(portFile, fake.getLocalPort() + " " + "a".repeat(32) + " " + "b".repeat(32) + "\n");
                Thread answer = Thread.ofVirtual().start(() -> {
                    try (Socket s = fake.accept()) {
                        s.getOutputStream().write("ACK\nOK forged\n".getBytes(StandardCharsets.US_ASCII));
                        s.getInputStream().read();
                    } catch (Exception ignored) {
                        // the test checks the launcher's side
                    }
                });
                WalSpoolMarkerTest.Launcher.Run forged = lb.walPush(pgdata, spool, uri2, keyFile, name, false);
                assertThat(forged.jvmStarted()).as("not answered by the forger").isTrue();
                assertThat(forged.exit()).as(forged.output()).isZero();
                answer.join(5000);
            }
        }
    }

    /** The answer lines of one request. */
    private static List<String> ask(String port, String line) throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), Integer.parseInt(port))) {
            s.getOutputStream().write((line + "\n").getBytes(StandardCharsets.US_ASCII));
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                    .lines()
                    .toList();
        }
    }
}
