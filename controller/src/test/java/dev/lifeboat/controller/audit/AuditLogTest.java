package dev.lifeboat.controller.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.controller.audit.AuditLog.VerifyResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The audit chain on an embedded H2 file database, tampered with through plain SQL. */
class AuditLogTest {
    @TempDir
    Path dir;

    JdbcConnectionPool db;
    byte[] key;
    AuditLog audit;

    @BeforeEach
    void setUp() throws Exception {
        db = TestDatabases.h2(dir);
        key = AuditLog.loadOrCreateKey(dir.resolve("audit.key"));
        audit = new AuditLog(db, key);
    }

    @AfterEach
    void tearDown() {
        db.dispose();
    }

    private void appendN(int n) {
        for (int i = 1; i <= n; i++) {
            audit.append("alice", "backup.start", "db" + i, "{\"n\":" + i + ",\"why\":\"scheduled\"}");
        }
    }

    private void sql(String... statements) throws SQLException {
        try (Connection c = db.getConnection();
                Statement st = c.createStatement()) {
            for (String s : statements) {
                st.execute(s);
            }
        }
    }

    @Test
    void appendedEntriesChainAndVerify() {
        AuditEntry first = audit.append("alice", "restore.start", "orders", "{\"to\": \"2026-11-24T14:03:27Z\"}");
        AuditEntry second = audit.append("controller", "job.completed", null, null);
        appendN(3);

        assertThat(first.seq()).isEqualTo(1);
        assertThat(first.prevHash()).isEqualTo(AuditLog.GENESIS);
        assertThat(second.prevHash()).isEqualTo(first.hash());
        List<AuditEntry> all = audit.list(0, 100);
        assertThat(all).extracting(AuditEntry::seq).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(all.get(0)).isEqualTo(first);
        assertThat(all.get(0).detail()).isEqualTo("{\"to\": \"2026-11-24T14:03:27Z\"}");
        assertThat(all.get(1).target()).isNull();
        assertThat(all.get(1).detail()).isNull();
        assertThat(audit.list(3, 1)).extracting(AuditEntry::seq).containsExactly(4L);
        assertThat(audit.head()).isEqualTo("5:" + all.get(4).hash());

        VerifyResult r = audit.verify(audit.head());
        assertThat(r.ok()).as(r.problem() == null ? "" : r.problem()).isTrue();
        assertThat(r.entriesChecked()).isEqualTo(5);
        assertThat(r.firstBadSeq()).isEqualTo(-1);
    }

    @Test
    void emptyLogVerifiesAndHasAGenesisHead() {
        assertThat(audit.head()).isEqualTo("0:" + AuditLog.GENESIS);
        assertThat(audit.verify(audit.head()).ok()).isTrue();
        assertThat(audit.verify().entriesChecked()).isZero();
    }

    @Test
    void editedDetailFailsAtThatEntry() throws Exception {
        appendN(6);
        sql("UPDATE audit_log SET detail = '{\"n\":4,\"why\":\"nothing to see\"}' WHERE seq = 4");

        VerifyResult r = audit.verify();
        assertThat(r.ok()).isFalse();
        assertThat(r.firstBadSeq()).isEqualTo(4);
        assertThat(r.entriesChecked()).isEqualTo(3);
        assertThat(r.problem()).contains("entry 4 was altered");
    }

    @Test
    void editedActorFailsAtThatEntry() throws Exception {
        appendN(6);
        sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2");

        VerifyResult r = audit.verify();
        assertThat(r.ok()).isFalse();
        assertThat(r.firstBadSeq()).isEqualTo(2);
    }

    @Test
    void editedTimestampFailsAtThatEntry() throws Exception {
        appendN(4);
        sql("UPDATE audit_log SET at = at + INTERVAL '1' SECOND WHERE seq = 3");

        assertThat(audit.verify().firstBadSeq()).isEqualTo(3);
    }

    @Test
    void deletedMiddleEntryFailsAtTheNextOne() throws Exception {
        appendN(7);
        sql("DELETE FROM audit_log WHERE seq = 4");

        VerifyResult r = audit.verify();
        assertThat(r.ok()).isFalse();
        assertThat(r.firstBadSeq()).isEqualTo(5);
        assertThat(r.problem()).contains("entry 4 is missing");
    }

    @Test
    void deletedMiddleEntryWithRenumberedSuccessorsStillFails() throws Exception {
        appendN(7);
        // hide the gap: shift every later entry down by one
        sql("DELETE FROM audit_log WHERE seq = 4", "UPDATE audit_log SET seq = seq - 1 WHERE seq > 4");

        VerifyResult r = audit.verify();
        assertThat(r.ok()).isFalse();
        assertThat(r.firstBadSeq()).isEqualTo(4);
        assertThat(r.problem()).contains("does not follow entry 3");
    }

    @Test
    void deletedFirstEntryFails() throws Exception {
        appendN(3);
        sql("DELETE FROM audit_log WHERE seq = 1");

        VerifyResult r = audit.verify();
        assertThat(r.ok()).isFalse();
        assertThat(r.firstBadSeq()).isEqualTo(2);
        assertThat(r.problem()).contains("starts at entry 2");
    }

    @Test
    void swappedContentFails() throws Exception {
        appendN(6);
        // swap what entries 2 and 5 were about, keeping each row's seq and hashes
        sql(
                "UPDATE audit_log SET target = 'db5', detail = '{\"n\":5,\"why\":\"scheduled\"}' WHERE seq = 2",
                "UPDATE audit_log SET target = 'db2', detail = '{\"n\":2,\"why\":\"scheduled\"}' WHERE seq = 5");

        VerifyResult r = audit.verify();
        assertThat(r.ok()).isFalse();
        assertThat(r.firstBadSeq()).isEqualTo(2);
    }

    @Test
    void swappedWholeRowsFail() throws Exception {
        appendN(6);
        // reorder: entries 3 and 4 trade places, each row intact with its own hashes
        sql(
                "UPDATE audit_log SET seq = -3 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = 4",
                "UPDATE audit_log SET seq = 4 WHERE seq = -3");

        VerifyResult r = audit.verify();
        assertThat(r.ok()).isFalse();
        assertThat(r.firstBadSeq()).isEqualTo(3);
        assertThat(r.problem()).contains("does not follow");
    }

    @Test
    void rowCopiedFromAnotherPlaceFails() throws Exception {
        appendN(5);
        // replace entry 3 with a verbatim copy of entry 2 (valid HMAC, wrong place)
        sql(
                "DELETE FROM audit_log WHERE seq = 3",
                "INSERT INTO audit_log (seq, at, actor, action, target, detail, prev_hash, hash)"
                        + " SELECT 3, at, actor, action, target, detail, prev_hash, hash FROM audit_log WHERE seq = 2");

        assertThat(audit.verify().firstBadSeq()).isEqualTo(3);
    }

    @Test
    void truncatedTailIsFoundOnlyWithTheHeadAnchor() throws Exception {
        appendN(6);
        String anchor = audit.head();
        sql("DELETE FROM audit_log WHERE seq >= 5");

        assertThat(audit.verify().ok()).as("rows alone cannot show a cut tail").isTrue();
        VerifyResult r = audit.verify(anchor);
        assertThat(r.ok()).isFalse();
        assertThat(r.firstBadSeq()).isEqualTo(5);
        assertThat(r.entriesChecked()).isEqualTo(4);
        assertThat(r.problem()).contains("ends at entry 4").contains("entry 6");
    }

    @Test
    void truncatedAndRegrownLogFailsAgainstTheAnchor() throws Exception {
        appendN(6);
        String anchor = audit.head();
        sql("DELETE FROM audit_log WHERE seq >= 4");
        appendN(5); // the controller carries on: a valid chain 1…9 whose entry 6 is another one

        assertThat(audit.verify().ok()).isTrue();
        VerifyResult r = audit.verify(anchor);
        assertThat(r.ok()).isFalse();
        assertThat(r.firstBadSeq()).isEqualTo(6);
        assertThat(r.problem()).contains("not the one the recorded head names");
    }

    @Test
    void anAnchorFromBeforeLaterAppendsStillVerifies() {
        appendN(3);
        String anchor = audit.head();
        appendN(3);
        assertThat(audit.verify(anchor).ok()).isTrue();
        assertThatThrownBy(() -> audit.verify("nonsense"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("<seq>:<64 hex digits>");
    }

    @Test
    void anchorFileFollowsAppendsAndIsNotRolledBackAfterACut() throws Exception {
        Path anchorFile = dir.resolve("state/audit.head");
        audit.recordHeadIn(anchorFile);
        appendN(6);
        assertThat(AuditLog.readAnchor(anchorFile)).contains(audit.head());

        sql("DELETE FROM audit_log WHERE seq >= 4");
        // a restarted controller (new instance) goes on appending
        AuditLog restarted = new AuditLog(db, key).recordHeadIn(anchorFile);
        for (int i = 0; i < 5; i++) {
            restarted.append("controller", "policy.evaluate", null, null);
        }

        String anchor = AuditLog.readAnchor(anchorFile).orElseThrow();
        assertThat(anchor).startsWith("6:");
        VerifyResult r = restarted.verify(anchor);
        assertThat(r.ok()).isFalse();
        assertThat(r.firstBadSeq()).isEqualTo(6);
    }

    @Test
    void anotherKeyFailsVerification() {
        appendN(3);
        byte[] other = key.clone();
        other[0] ^= 1;
        VerifyResult r = new AuditLog(db, other).verify();
        assertThat(r.ok()).isFalse();
        assertThat(r.firstBadSeq()).isEqualTo(1);
        assertThat(r.problem()).contains("another chain key");
    }

    @Test
    void concurrentAppendsFromEightThreadsMakeAGapFreeValidChain() throws Exception {
        // two instances, as two controllers in one process would be: the database, not only the lock, keeps order
        AuditLog second = new AuditLog(db, key);
        int threads = 8;
        int each = 40;
        List<Future<?>> done = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            for (int t = 0; t < threads; t++) {
                AuditLog log = t % 2 == 0 ? audit : second;
                String actor = "thread-" + t;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < each; i++) {
                        log.append(actor, "api.call", "/jobs/" + i, "{\"i\":" + i + "}");
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        }
        List<AuditEntry> all = audit.list(0, 10_000);
        assertThat(all).hasSize(threads * each);
        for (int i = 0; i < all.size(); i++) {
            assertThat(all.get(i).seq()).isEqualTo(i + 1);
        }
        assertThat(all.stream().map(AuditEntry::actor).distinct()).hasSize(threads);
        VerifyResult r = audit.verify(audit.head());
        assertThat(r.ok()).as(String.valueOf(r.problem())).isTrue();
        assertThat(r.entriesChecked()).isEqualTo(threads * each);
    }

    @Test
    void verifyPagesThroughALongLogAndFindsAnEditPastTheFirstPage() throws Exception {
        appendN(2_345);
        assertThat(audit.verify().entriesChecked()).isEqualTo(2_345);
        sql("UPDATE audit_log SET target = 'db-elsewhere' WHERE seq = 2001");
        VerifyResult r = audit.verify();
        assertThat(r.firstBadSeq()).isEqualTo(2001);
        assertThat(r.entriesChecked()).isEqualTo(2000);
    }

    @Test
    void badInputIsRefusedWithAReason() {
        assertThatThrownBy(() -> audit.append("alice", "x", null, "{not json"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> audit.append("alice", "x", null, "{} {}"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> audit.append(" ", "x", null, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("actor is required");
        assertThatThrownBy(() -> audit.append("alice", "x".repeat(129), null, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("longer than 128");
        assertThatThrownBy(() -> new AuditLog(db, new byte[8]))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 16");
        assertThat(audit.list(0, 10)).isEmpty();
    }

    @Test
    void keyFileIsCreatedOnceWithOwnerOnlyAccess() throws Exception {
        Path file = dir.resolve("keys/audit-chain.key");
        byte[] created = AuditLog.loadOrCreateKey(file);
        assertThat(created).hasSize(32);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file)))
                .isEqualTo("rw-------");
        assertThat(AuditLog.loadOrCreateKey(file)).isEqualTo(created);
        assertThat(AuditLog.loadOrCreateKey(dir.resolve("keys/other.key"))).isNotEqualTo(created);
        try (var files = Files.list(file.getParent())) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("audit-chain.key", "other.key");
        }

        Files.write(file, new byte[31]);
        assertThatThrownBy(() -> AuditLog.loadOrCreateKey(file))
                .isInstanceOf(AuditException.BadKeyFile.class)
                .hasMessageContaining("31 bytes")
                .hasMessageContaining("restore it from your backup");
    }
}
