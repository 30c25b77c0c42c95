package dev.lifeboat.storage.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.cli.Main;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStoreContract;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The crash-point hooks: which call they stop at, and that they change nothing else. */
class CrashingBlobStoreTest {
    @TempDir
    Path dir;

    /** Stands in for Runtime.halt in-process: unwinds instead of stopping the JVM. */
    static final class Halted extends RuntimeException {
        Halted(String why) {
            super(why);
        }
    }

    private CrashingBlobStore store(Map<String, String> env) {
        return new CrashingBlobStore(new LocalBlobStore(dir.resolve("repo")), new CrashPoints(env, why -> {
            throw new Halted(why);
        }));
    }

    private boolean exists(String key) {
        return Files.exists(dir.resolve("repo").resolve(key));
    }

    @Test
    void afterWritesStopsOnceTheNthWriteHasHappened() throws Exception {
        CrashingBlobStore s = store(Map.of(CrashPoints.AFTER_WRITES, "3"));
        s.put("a", new byte[] {1});
        assertThat(s.putIfAbsent("b", new byte[] {2})).isTrue();
        s.get("a"); // reads are not counted
        s.list("");
        assertThatThrownBy(() -> s.delete("a"))
                .isInstanceOf(Halted.class)
                .hasMessageContaining("after write 3 (delete a");
        assertThat(exists("a")).as("the 3rd write completed before the halt").isFalse();
        s.put("c", new byte[] {3}); // only the N-th write halts
        assertThat(exists("c")).isTrue();
    }

    @Test
    void beforeWriteStopsBeforeTheNthWriteStarts() throws Exception {
        CrashingBlobStore s = store(Map.of(CrashPoints.BEFORE_WRITE, "2"));
        s.put("a", new byte[] {1});
        assertThatThrownBy(() -> s.put("b", new byte[] {2}))
                .isInstanceOf(Halted.class)
                .hasMessageContaining("before write 2 (put b)");
        assertThat(exists("b")).as("the 2nd write never started").isFalse();
    }

    @Test
    void aKeyFilterCountsOnlyMatchingKeys() throws Exception {
        CrashingBlobStore s = store(Map.of(CrashPoints.AFTER_WRITES, "2", CrashPoints.KEYS, "data/, snapshots/"));
        s.put("locks/exclusive", new byte[] {1});
        s.put("data/aa/1", new byte[] {1});
        s.put("index/x", new byte[] {1});
        assertThatThrownBy(() -> s.put("snapshots/b1", new byte[] {2}))
                .isInstanceOf(Halted.class)
                .hasMessageContaining("after write 2 (put snapshots/b1");
    }

    @Test
    void aKeyEndingInDollarMatchesThatKeyOnly() throws Exception {
        CrashingBlobStore s = store(Map.of(CrashPoints.BEFORE_WRITE, "1", CrashPoints.KEYS, "wal/1/seg$"));
        s.put("wal/1/seg.partial", new byte[] {1});
        assertThatThrownBy(() -> s.put("wal/1/seg", new byte[] {2}))
                .isInstanceOf(Halted.class)
                .hasMessageContaining("before write 1 (put wal/1/seg)");
    }

    @Test
    void aFailedWriteCountsAndIsReportedAsFailed() throws Exception {
        CrashingBlobStore s = store(Map.of(CrashPoints.AFTER_WRITES, "1"));
        assertThatThrownBy(() -> s.put("../escape", new byte[] {1}))
                .isInstanceOf(Halted.class)
                .hasMessageContaining("failed");
    }

    @Test
    void aTokenAllowsOneCrashOnly() throws Exception {
        Path token = Files.createFile(dir.resolve("token"));
        Map<String, String> env = Map.of(CrashPoints.AFTER_WRITES, "1", CrashPoints.TOKEN, token.toString());
        assertThatThrownBy(() -> store(env).put("a", new byte[] {1})).isInstanceOf(Halted.class);
        assertThat(token).doesNotExist();
        store(env).put("b", new byte[] {1}); // a second process with the same environment runs on
        assertThat(exists("b")).isTrue();
    }

    @Test
    void theLogNumbersEveryCountedWriteAndFileAndTheCrash() throws Exception {
        Path log = dir.resolve("crash.log");
        CrashPoints points =
                new CrashPoints(Map.of(CrashPoints.LOG, log.toString(), CrashPoints.AFTER_FILES, "2"), why -> {
                    throw new Halted(why);
                });
        CrashingBlobStore s = new CrashingBlobStore(new LocalBlobStore(dir.resolve("repo")), points);
        s.put("a", new byte[] {1});
        assertThat(s.putIfAbsent("a", new byte[] {1})).isFalse();
        points.fileDone("restore", "copy");
        assertThatThrownBy(() -> points.fileDone("restore", "copy")).isInstanceOf(Halted.class);
        long pid = ProcessHandle.current().pid();
        assertThat(Files.readAllLines(log))
                .containsExactly(
                        pid + " write 1 put a ok",
                        pid + " write 2 putIfAbsent a exists",
                        pid + " file 1 restore copy",
                        pid + " file 2 restore copy",
                        pid + " crash after file 2 (restore copy)");
    }

    @Test
    void unsetVariablesLeaveTheStoreUnwrapped() {
        assertThat(new CrashPoints(Map.of(), why -> {}).watchesWrites()).isFalse();
        assertThat(new CrashPoints(Map.of(CrashPoints.AFTER_FILES, "1"), why -> {}).watchesWrites())
                .isFalse();
        assertThat(new CrashPoints(Map.of(CrashPoints.BEFORE_WRITE, "1"), why -> {}).watchesWrites())
                .isTrue();
        assertThatThrownBy(() -> new CrashPoints(Map.of(CrashPoints.AFTER_WRITES, "0"), why -> {}))
                .hasMessageContaining(CrashPoints.AFTER_WRITES);
    }

    /** Through the real CLI in a JVM of its own: BlobStores.open wraps the store, and halt looks like kill -9. */
    @Test
    void theCliHaltsWithExitCode137AtTheChosenWrite() throws Exception {
        Path after = dir.resolve("after");
        Run a = cli(Map.of(CrashPoints.AFTER_WRITES, "1"), "repo-init", "--repo", "file://" + after, "--no-encryption");
        assertThat(a.code()).as(a.output()).isEqualTo(137);
        assertThat(a.output()).contains("halting after write 1 (putIfAbsent config");
        assertThat(after.resolve("config")).as("written before the halt").exists();

        Path before = dir.resolve("before");
        Run b = cli(
                Map.of(CrashPoints.BEFORE_WRITE, "1"), "repo-init", "--repo", "file://" + before, "--no-encryption");
        assertThat(b.code()).as(b.output()).isEqualTo(137);
        assertThat(before.resolve("config")).doesNotExist();

        Run clean = cli(Map.of(), "repo-init", "--repo", "file://" + before, "--no-encryption");
        assertThat(clean.code()).as(clean.output()).isZero();
    }

    record Run(int code, String output) {}

    private Run cli(Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1",
                "-cp",
                System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")),
                Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("cli.log").toFile());
        Map<String, String> e = new HashMap<>(pb.environment());
        e.keySet().removeIf(k -> k.startsWith("LIFEBOAT_CRASH_"));
        e.putAll(env);
        pb.environment().clear();
        pb.environment().putAll(e);
        Process p = pb.start();
        if (!p.waitFor(Duration.ofMinutes(2).toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("lifeboat " + String.join(" ", args) + " did not finish within 2 minutes");
        }
        return new Run(p.exitValue(), Files.readString(dir.resolve("cli.log")));
    }

    /** Without a crash point the wrapper is transparent: the whole store contract holds through it. */
    @Nested
    class Contract extends BlobStoreContract {
        @Override
        protected BlobStore openStore() {
            return new CrashingBlobStore(new LocalBlobStore(dir.resolve("contract")), new CrashPoints(Map.of(), why -> {
                throw new Halted(why);
            }));
        }
    }
}
