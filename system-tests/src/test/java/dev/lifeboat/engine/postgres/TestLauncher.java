package dev.lifeboat.engine.postgres;

import dev.lifeboat.cli.Main;
import dev.lifeboat.util.Processes;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

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
            } else if (Files.isDirectory(p)) {
                // class-data sharing refuses a class path with a non-empty directory: the launcher reads it as a jar
                Path jar = dir.resolve(entries.size() + "-" + p.getFileName() + ".jar");
                jarOf(p, jar);
                entries.add(jar.toString());
            } else {
                entries.add(p.toString());
            }
        }
        // PostgreSQL starts this launcher once per WAL file (archive_command, restore_command): each command keeps a
        // class-data archive, written by its first run, as bin/lifeboat does (a wal-get that fails at once: 1.17 s
        // wall without it, 0.92 s with it, medians of 5)
        Path cds = Files.createDirectories(dir.resolve("cds"));
        Files.setPosixFilePermissions(cds, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path s = dir.resolve("lifeboat");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Files.writeString(
                s,
                "#!/bin/bash\n" + walGetFastPath() + "cmd=$(printf %s \"${1:-none}\" | tr -cd a-z-)\nexec " + java
                        + " -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:SharedArchiveFile=" + cds
                        + "/lifeboat-${cmd:-other}.jsa -XX:+AutoCreateSharedArchive -Xshare:auto -Xlog:cds=off"
                        + " -Xlog:cds+dynamic=off --enable-native-access=ALL-UNNAMED -cp '"
                        + String.join(":", entries) + "' " + Main.class.getName() + " \"$@\"\n");
        Files.setPosixFilePermissions(s, PosixFilePermissions.fromString("rwxr-xr-x"));
        System.setProperty("lifeboat.launcher", s.toString());
        script = s;
        return s;
    }

    /**
     * A launcher that exports {@code env}, and itself as {@code LIFEBOAT_BIN}, before running {@link #install the test
     * launcher}: for archive_command and restore_command, which PostgreSQL runs without the test's environment.
     */
    public static Path withEnvironment(String name, Map<String, String> env) throws IOException {
        Path launcher = install();
        Path w = launcher.resolveSibling(
                "lifeboat-" + name + "-" + UUID.randomUUID().toString().substring(0, 6));
        Map<String, String> all = new LinkedHashMap<>(env);
        all.put("LIFEBOAT_BIN", w.toString());
        StringBuilder s = new StringBuilder("#!/bin/sh\n");
        all.forEach((k, v) -> s.append("export ")
                .append(k)
                .append("='")
                .append(v.replace("'", "'\\''"))
                .append("'\n"));
        s.append("exec '").append(launcher).append("' \"$@\"\n");
        Files.writeString(w, s.toString());
        Files.setPosixFilePermissions(w, PosixFilePermissions.fromString("rwxr-xr-x"));
        return w;
    }

    /** What {@link #run} saw: the exit status and the output (stdout and stderr together). */
    public record Run(int exit, String output) {}

    /**
     * Runs the launcher as a separate process with {@code env} and nothing of this JVM's store settings or cloud
     * identities ({@code AWS_*}, {@code AZURE_*}, {@code GOOGLE_*}, {@code LIFEBOAT_*}, managed-identity variables), so
     * a test sees what a host with only {@code env} would; its output goes to a file in {@code logDir}.
     */
    public static Run run(Map<String, String> env, Path logDir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(install().toString()));
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile(logDir, "run-", ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> e = pb.environment();
        e.keySet()
                .removeIf(k -> k.startsWith("AWS_")
                        || k.startsWith("AZURE_")
                        || k.startsWith("LIFEBOAT_")
                        || k.startsWith("GOOGLE_")
                        || k.startsWith("IDENTITY_")
                        || k.startsWith("MSI_")
                        || k.equals("IMDS_ENDPOINT"));
        e.put("LIFEBOAT_BIN", install().toString()); // as bin/lifeboat exports it
        e.putAll(env);
        Process p = pb.start();
        if (!p.waitFor(4, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("lifeboat " + String.join(" ", args) + " did not finish");
        }
        return new Run(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }

    /**
     * bin/lifeboat's restore_command fast path, read from the checkout: a restore's wal-get hands over the segment its
     * background fetcher downloaded without starting a JVM, in the tests as in production.
     */
    private static String walGetFastPath() throws IOException {
        String launcher = Files.readString(checkout().resolve("bin/lifeboat"));
        int from = launcher.indexOf("# restore_command fast path");
        int to = launcher.indexOf("\nfi\n", from);
        if (from < 0 || to < 0) {
            throw new IllegalStateException("bin/lifeboat has no restore_command fast path ending in a 'fi' line");
        }
        return launcher.substring(from, to + 4);
    }

    /** The checkout these tests run from (surefire runs them in system-tests/). */
    static Path checkout() {
        return Path.of(System.getProperty("user.dir")).getParent();
    }

    /** Writes the files under {@code dir} into {@code jar} (readable by all). */
    private static void jarOf(Path dir, Path jar) throws IOException {
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
                Stream<Path> files = Files.walk(dir)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
                out.putNextEntry(new JarEntry(dir.relativize(f).toString().replace(File.separatorChar, '/')));
                Files.copy(f, out);
                out.closeEntry();
            }
        }
        Files.setPosixFilePermissions(jar, PosixFilePermissions.fromString("rw-r--r--"));
    }

    /** Makes a file readable by the postgres user (a test key file used by archive_command). */
    public static void shareWithPostgres(Path file) throws IOException {
        if (Processes.isRoot()) {
            Processes.check(List.of("chown", "postgres", file.toString()), Duration.ofSeconds(10));
            LocalCluster.makeReachable(file.getParent(), "postgres");
        }
    }
}
