package dev.lifeboat.controller.audit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.controller.audit.AuditLog.VerifyResult;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The audit chain on a real PostgreSQL 15, written by two controllers (two data sources, two AuditLog instances) at
 * once. */
class AuditLogPostgresTest {
    @TempDir
    static Path dir;

    static TestDatabases.Postgres pg;
    static byte[] key;

    @BeforeAll
    static void start() throws Exception {
        pg = new TestDatabases.Postgres(dir);
        key = AuditLog.loadOrCreateKey(dir.resolve("audit.key"));
    }

    @AfterAll
    static void stop() throws Exception {
        pg.close();
    }

    @BeforeEach
    void empty() throws Exception {
        try (Connection c = pg.dataSource().getConnection();
                Statement st = c.createStatement()) {
            st.execute("DELETE FROM audit_log");
        }
    }

    @Test
    void twoControllersAppendingConcurrentlyMakeOneGapFreeChain() throws Exception {
        AuditLog controllerA = new AuditLog(pg.dataSource(), key);
        AuditLog controllerB = new AuditLog(pg.dataSource(), key);
        int threads = 8;
        int each = 30;
        List<Future<?>> done = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            for (int t = 0; t < threads; t++) {
                AuditLog log = t < threads / 2 ? controllerA : controllerB;
                String actor = "ctl-" + (t < threads / 2 ? "a" : "b") + "/thread-" + t;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < each; i++) {
                        log.append(actor, "job.dispatch", "job-" + i, "{\"i\":" + i + ",\"text\":\"naïve ✓\"}");
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        }
        List<AuditEntry> all = controllerA.list(0, 10_000);
        assertThat(all).hasSize(threads * each);
        for (int i = 0; i < all.size(); i++) {
            assertThat(all.get(i).seq()).isEqualTo(i + 1);
        }
        assertThat(all.get(0).detail()).contains("naïve ✓");
        VerifyResult r = controllerB.verify(controllerA.head());
        assertThat(r.ok()).as(String.valueOf(r.problem())).isTrue();
        assertThat(r.entriesChecked()).isEqualTo(threads * each);
    }

    @Test
    void editingOneRowFailsVerificationAtThatRow() throws Exception {
        DataSource ds = pg.dataSource();
        AuditLog audit = new AuditLog(ds, key);
        for (int i = 1; i <= 10; i++) {
            audit.append("alice", "restore.start", "orders", "{\"n\":" + i + "}");
        }
        String anchor = audit.head();
        assertThat(audit.verify(anchor).ok()).isTrue();
        try (Connection c = ds.getConnection();
                Statement st = c.createStatement()) {
            st.execute("UPDATE audit_log SET actor = 'bob' WHERE seq = 7");
        }
        VerifyResult r = audit.verify(anchor);
        assertThat(r.ok()).isFalse();
        assertThat(r.firstBadSeq()).isEqualTo(7);

        try (Connection c = ds.getConnection();
                Statement st = c.createStatement()) {
            st.execute("UPDATE audit_log SET actor = 'alice' WHERE seq = 7");
            st.execute("DELETE FROM audit_log WHERE seq > 8");
        }
        r = audit.verify(anchor);
        assertThat(r.firstBadSeq()).isEqualTo(9);
        assertThat(r.problem()).contains("were removed");
    }
}
