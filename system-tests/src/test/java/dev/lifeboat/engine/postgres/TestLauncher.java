package dev.lifeboat.engine.postgres;

import dev.lifeboat.cli.Main;
import dev.lifeboat.util.Processes;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A `lifeboat` launcher script for the postgres OS user (archive_command, restore_command in tests): the test class
 * path, with jars it cannot read (e.g. under /root/.m2) copied to a shared temp directory.
 */
public final class TestLauncher {
    private static Path script;

    private TestLauncher() {}

    public static synchronized Path install() throws IOException {
        if (script != null) {
            return script;
        }
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Path dir = Files.createTempDirectory("lifeboat-launcher-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        List<String> entries = new ArrayList<>();
        for (String e : cp.split(File.pathSeparator)) {
            if (e.isBlank()) {
                continue;
            }
            Path p = Path.of(e);
            if (Files.isRegularFile(p) && p.toString().startsWith("/root")) {
                Path copy = dir.resolve(entries.size() + "-" + p.getFileName());
                Files.copy(p, copy, StandardCopyOption.REPLACE_EXISTING);
                Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-r--r--"));
                entries.add(copy.toString());
            } else {
                entries.add(p.toString());
            }
        }
        Path s = dir.resolve("lifeboat");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Files.writeString(
                s,
                "#!/bin/sh\nexec " + java
                        + " -XX:TieredStopAtLevel=1 -XX:+UseSerialGC --enable-native-access=ALL-UNNAMED -cp '"
                        + String.join(":", entries) + "' " + Main.class.getName() + " \"$@\"\n");
        Files.setPosixFilePermissions(s, PosixFilePermissions.fromString("rwxr-xr-x"));
        System.setProperty("lifeboat.launcher", s.toString());
        script = s;
        return s;
    }

    /** Makes a file readable by the postgres user (a test key file used by archive_command). */
    public static void shareWithPostgres(Path file) throws IOException {
        if (Processes.isRoot()) {
            Processes.check(List.of("chown", "postgres", file.toString()), Duration.ofSeconds(10));
            LocalCluster.makeReachable(file.getParent(), "postgres");
        }
    }
}
