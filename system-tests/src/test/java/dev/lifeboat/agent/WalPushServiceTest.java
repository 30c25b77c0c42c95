package dev.lifeboat.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgTestSupport;
import dev.lifeboat.engine.postgres.WalSpool;
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
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent keeps a WAL pusher running for a database with {@code wal-push-spool}: it archives ready segments ahead
 * and answers archive_command's requests (the launcher's side is in WalPushRequestTest); it stops with the agent.
 */
class WalPushServiceTest {
    @TempDir
    Path tmp;

    @Test
    void theAgentsPusherArchivesAheadAndAnswersRequests() throws Exception {
        Path keyFile = PgTestSupport.keyFile(tmp);
        String uri = PgTestSupport.repoUri(tmp.resolve("repo"));
        assertThat(PgTestSupport.cli("repo-init", "--repo", uri, "--key-file", keyFile.toString())
                        .exitCode())
                .isZero();
        Repository repo = Repository.open(new LocalBlobStore(tmp.resolve("repo")), KeySource.KeyFile.read(keyFile));
        try (LocalCluster pg = LocalCluster.create(tmp.resolve("pg"), List.of())) {
            Path pgWal = pg.dataDir().resolve("pg_wal");
            String name = "000000010000000000000001";
            Files.createDirectories(pgWal.resolve("archive_status"));
            Files.writeString(pgWal.resolve("archive_status").resolve(name + ".ready"), "");
            Path spool = tmp.resolve("spool");
            Path yaml = tmp.resolve("agent.yaml");
            Files.writeString(yaml, """
                    id: a1
                    region: r1
                    insecure-dev: true
                    databases:
                      - name: main
                        pgdata: %s
                        repo: %s
                        key-file: %s
                        wal-push-spool: %s
                    """.formatted(pg.dataDir(), uri, keyFile, spool));
            AgentConfig cfg = AgentConfig.load(yaml);
            Path portFile = spool.resolve("push.port");
            try (WalPushService service = new WalPushService(cfg.databases())) {
                for (int i = 0; i < 1000 && new WalArchive(repo).read(name).isEmpty(); i++) {
                    Thread.sleep(20);
                }
                assertThat(new WalArchive(repo).read(name))
                        .as("archived ahead of any request")
                        .hasValueSatisfying(b -> assertThat(b).hasSize(16 << 20));
                String[] port = Files.readString(portFile).strip().split(" ");
                String fp = WalSpool.fingerprint(pgWal.resolve(name));
                String key = "k".repeat(64);
                // a wal-push of another repository cannot bind its settings here (the agent's pusher keeps serving its
                // own database); one of this repository can
                assertThatThrownBy(() -> WalSpool.bindPusher(spool, key, "another-repository:none"))
                        .hasMessageContaining("did not accept");
                WalSpool.bindPusher(spool, key, WalSpool.identity(repo, null));
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), Integer.parseInt(port[0]))) {
                    s.getOutputStream()
                            .write(("PUSH " + port[1] + " " + key + " " + name + " " + fp + " " + pgWal.toRealPath()
                                            + "\n")
                                    .getBytes(StandardCharsets.US_ASCII));
                    assertThat(new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))
                                    .lines()
                                    .toList())
                            .containsExactly("ACK", "OK " + port[2]);
                }
            }
            assertThat(portFile).as("gone with the agent").doesNotExist();
        }
    }

    @Test
    void aSpoolNeedsTheDataDirectory() throws Exception {
        Path yaml = tmp.resolve("agent.yaml");
        Files.writeString(yaml, """
                id: a1
                region: r1
                insecure-dev: true
                databases:
                  - name: main
                    pghost: /run/postgresql
                    repo: file:///srv/repo
                    wal-push-spool: /var/lib/lifeboat/spool/main
                """);
        assertThatThrownBy(() -> AgentConfig.load(yaml))
                .hasMessageContaining("wal-push-spool")
                .hasMessageContaining("needs pgdata");
    }
}
