package dev.lifeboat.engine.postgres;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.cli.Main;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.local.LocalBlobStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a power loss during a restore can leave: the system calls of a real restore are traced with strace, and every
 * file that decides how the copy starts (backup_label, tablespace_map, the restore marker, postgresql.auto.conf,
 * recovery.signal) must be fsynced and renamed into place, and its directory fsynced, before global/pg_control is
 * even created. A durable pg_control without a durable backup_label would make PostgreSQL do crash recovery from a
 * checkpoint copied mid-backup. Every other restored file must be fsynced before pg_control is created too.
 */
class RestoreDurabilityTest {
    @TempDir
    Path tmp;

    private static final Pattern OPEN =
            Pattern.compile("^(\\d+)\\s+openat\\(AT_FDCWD, \"([^\"]+)\", ([^)]*)\\)\\s+=\\s+(\\d+)");
    private static final Pattern FSYNC = Pattern.compile("^(\\d+)\\s+f(?:data)?sync\\((\\d+)\\)\\s+=\\s+0");
    private static final Pattern RENAME =
            Pattern.compile("^(\\d+)\\s+rename(?:at2?)?\\((?:AT_FDCWD, )?\"([^\"]+)\", (?:AT_FDCWD, )?\"([^\"]+)\"");
    private static final Pattern CLOSE = Pattern.compile("^(\\d+)\\s+close\\((\\d+)\\)\\s+=\\s+0");

    @Test
    void controlFilesAreDurableBeforePgControlIsCreated() throws Exception {
        try (LocalCluster pg = LocalCluster.create(tmp.resolve("pg"), List.of())) {
            pg.start();
            PgTestSupport.exec(pg, "create table t as select generate_series(1, 1000) g");
            LocalBlobStore store = new LocalBlobStore(tmp.resolve("repo"));
            Repository.init(store, null, true);
            Repository repo = Repository.open(store, (KeySource) null);
            new PgBackup(
                            repo,
                            new PgBackupOptions(pg.dataDir(), null, null, "postgres", "full", Compression.LOW, 2),
                            null,
                            new Cancellation())
                    .run();
        }
        Path target = tmp.resolve("restored");
        Path trace = Path.of(System.getenv()
                .getOrDefault("LIFEBOAT_TEST_TRACE", tmp.resolve("trace.txt").toString()));
        List<String> cmd = new ArrayList<>(List.of(
                "strace",
                "-f",
                "-qq",
                "-e",
                "trace=openat,fsync,fdatasync,rename,renameat,renameat2,close",
                "-o",
                trace.toString(),
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName(),
                "restore",
                "--repo",
                "file://" + tmp.resolve("repo"),
                "--target",
                target.toString(),
                "-q"));
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(tmp.resolve("restore.log").toFile())
                .start();
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(p.exitValue())
                .as(Files.readString(tmp.resolve("restore.log")))
                .isZero();

        // replay the trace: which path each open file descriptor has, what was fsynced and renamed, in order
        Map<String, String> fdPath = new HashMap<>(); // "pid:fd" -> path
        Map<String, Integer> fsyncedAt = new HashMap<>(); // path -> line
        Map<String, Integer> renamedAt = new HashMap<>(); // final path -> line
        Map<String, Integer> renamedFrom =
                new HashMap<>(); // final path -> temp path fsynced before? (line of that fsync)
        Integer pgControlCreated = null;
        List<String> lines = joinInterruptedCalls(Files.readAllLines(trace));
        List<Integer> targetDirFsyncs = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            Matcher m;
            if ((m = OPEN.matcher(l)).find()) {
                fdPath.put(m.group(1) + ":" + m.group(4), m.group(2));
                if (m.group(2).equals(target.resolve("global/pg_control").toString())
                        && m.group(3).contains("O_CREAT")
                        && pgControlCreated == null) {
                    pgControlCreated = i;
                }
            } else if ((m = FSYNC.matcher(l)).find()) {
                String path = fdPath.get(m.group(1) + ":" + m.group(2));
                if (path != null) {
                    fsyncedAt.putIfAbsent(path, i);
                    if (path.equals(target.toString())) {
                        targetDirFsyncs.add(i);
                    }
                }
            } else if ((m = RENAME.matcher(l)).find()) {
                renamedAt.put(m.group(3), i);
                renamedFrom.put(m.group(3), fsyncedAt.getOrDefault(m.group(2), Integer.MAX_VALUE));
            } else if ((m = CLOSE.matcher(l)).find()) {
                fdPath.remove(m.group(1) + ":" + m.group(2));
            }
        }
        assertThat(pgControlCreated).as("pg_control created").isNotNull();
        int lastRename = 0;
        for (String name : List.of("backup_label", "lifeboat.restored", "postgresql.auto.conf", "recovery.signal")) {
            String path = target.resolve(name).toString();
            lastRename = Math.max(lastRename, renamedAt.getOrDefault(path, 0));
            assertThat(renamedAt).as(name + " is renamed into place").containsKey(path);
            assertThat(renamedFrom.get(path))
                    .as(name + "'s content is fsynced before its rename")
                    .isLessThan(renamedAt.get(path));
            assertThat(renamedAt.get(path))
                    .as(name + " is in place before pg_control is created")
                    .isLessThan(pgControlCreated);
        }
        // and every restored data file (fsynced by a background thread since the copy phase stopped waiting for it)
        List<Path> dataFiles;
        try (var walk = Files.walk(target)) {
            dataFiles = walk.filter(Files::isRegularFile).toList();
        }
        assertThat(dataFiles).hasSizeGreaterThan(100);
        for (Path f : dataFiles) {
            if (f.equals(target.resolve("global/pg_control")) || renamedAt.containsKey(f.toString())) {
                continue;
            }
            assertThat(fsyncedAt.getOrDefault(f.toString(), Integer.MAX_VALUE))
                    .as(target.relativize(f) + " is fsynced before pg_control is created")
                    .isLessThan(pgControlCreated);
        }
        // and every directory (its entries for those files)
        try (var walk = Files.walk(target)) {
            for (Path d : walk.filter(Files::isDirectory).toList()) {
                assertThat(fsyncedAt.getOrDefault(d.toString(), Integer.MAX_VALUE))
                        .as("directory " + target.relativize(d) + " is fsynced before pg_control is created")
                        .isLessThan(pgControlCreated);
            }
        }
        int afterRenames = lastRename;
        int created = pgControlCreated;
        assertThat(targetDirFsyncs)
                .as("the data directory is fsynced after the renames and before pg_control")
                .anyMatch(line -> line > afterRenames && line < created);
    }

    private static final Pattern UNFINISHED = Pattern.compile("^(\\d+)\\s+(.*) <unfinished \\.\\.\\.>$");
    private static final Pattern RESUMED = Pattern.compile("^(\\d+)\\s+<\\.\\.\\. \\w+ resumed>(.*)$");

    /**
     * strace -f splits a call that another thread interrupts into "… &lt;unfinished ...&gt;" and "&lt;... call
     * resumed&gt; …" lines: joined, at the line where the call returned (an fsync counts once it has finished).
     */
    static List<String> joinInterruptedCalls(List<String> raw) {
        Map<String, String> started = new HashMap<>();
        List<String> out = new ArrayList<>(raw.size());
        for (String l : raw) {
            Matcher m;
            if ((m = UNFINISHED.matcher(l)).find()) {
                started.put(m.group(1), m.group(2));
                out.add(""); // keeps line numbers meaningful
            } else if ((m = RESUMED.matcher(l)).find() && started.containsKey(m.group(1))) {
                out.add(m.group(1) + "  " + started.remove(m.group(1)) + m.group(2));
            } else {
                out.add(l);
            }
        }
        return out;
    }
}
