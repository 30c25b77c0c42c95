package dev.lifeboat.engine.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
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
                .forEach(ProcessHandle::destroy);
    }

    @Test
    void aRunningPusherAnswersArchiveCommandWithoutAJvm() throws Exception {
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
            byte[] original = Files.readAllBytes(pgWal.resolve(name));
            Path spool = tmp.resolve("spool");
            WalSpool ws = new WalSpool(spool);

            // a pusher that archives only what it is asked for, as synchronous archiving runs it
            CompletableFuture<Void> pusher = CompletableFuture.runAsync(() -> {
                try {
                    ws.runPusher(repo, pgWal, pgdata, 2, Duration.ofSeconds(3), false);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Path portFile = spool.resolve("push.port");
            for (int i = 0; i < 500 && !Files.exists(portFile); i++) {
                Thread.sleep(10);
            }
            assertThat(Files.getPosixFilePermissions(portFile))
                    .as("only the cluster's user may ask")
                    .isEqualTo(PosixFilePermissions.fromString("rw-------"));
            assertThat(new WalArchive(repo).read(name))
                    .as("nothing archived before it is asked")
                    .isEmpty();

            WalSpoolMarkerTest.Launcher lb = new WalSpoolMarkerTest.Launcher(tmp.resolve("lb"));
            WalSpoolMarkerTest.Launcher.Run fast = lb.walPush(pgdata, spool, uri, keyFile, name, false);
            assertThat(fast.exit()).as(fast.output()).isZero();
            assertThat(fast.jvmStarted()).as("answered by the pusher").isFalse();
            assertThat(new WalArchive(repo).read(name))
                    .as("durable when the answer came")
                    .hasValueSatisfying(b -> assertThat(b).isEqualTo(original));

            // a request without the token, or for another version of the file, is refused
            String[] port = Files.readString(portFile).strip().split(" ");
            String fp = WalSpool.fingerprint(pgWal.resolve(name));
            assertThat(ask(port[0], "PUSH 00 " + name + " " + fp)).isEqualTo("ERR wrong token");
            assertThat(ask(port[0], "PUSH " + port[1] + " " + name + " 1:2:16777216:3.000000000"))
                    .startsWith("ERR ")
                    .contains("not the file archive_command named");
            assertThat(ask(port[0], "PUSH " + port[1] + " ../../etc/passwd " + fp))
                    .startsWith("ERR not a WAL");
            assertThat(ask(port[0], "PUSH " + port[1] + " " + name + " " + fp)).isEqualTo("OK");

            // once it has gone idle its port is gone, and the launcher falls back to the JVM, which archives the
            // file itself and leaves a pusher running for the next call
            pusher.get(30, TimeUnit.SECONDS);
            assertThat(portFile).doesNotExist();
            WalSpoolMarkerTest.Launcher.Run slow = lb.walPush(pgdata, spool, uri, keyFile, name, false);
            assertThat(slow.exit()).as(slow.output()).isZero();
            assertThat(slow.jvmStarted()).isTrue();
            for (int i = 0; i < 1000 && !Files.exists(portFile); i++) {
                Thread.sleep(20);
            }
            WalSpoolMarkerTest.Launcher.Run next = lb.walPush(pgdata, spool, uri, keyFile, name, false);
            assertThat(next.exit()).as(next.output()).isZero();
            assertThat(next.jvmStarted())
                    .as("answered by the pusher the JVM path started")
                    .isFalse();
        }
    }

    private static String ask(String port, String line) throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), Integer.parseInt(port))) {
            s.getOutputStream().write((line + "\n").getBytes(StandardCharsets.US_ASCII));
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }
}
