package dev.lifeboat.cli.options;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import picocli.CommandLine.Option;

/** {@code --dir}: where a command that builds a throwaway setup (quickstart, sandbox) puts everything. */
public final class WorkDirOptions {
    @Option(
            names = "--dir",
            paramLabel = "DIR",
            description = "Working directory (default: a new directory under the temp dir).")
    Path dir;

    /** The directory, created: --dir (which must be empty), else {@code <tmp>/<prefix>-<timestamp>}. */
    public Path create(String prefix) throws IOException {
        Path work = dir != null
                ? dir.toAbsolutePath()
                : Path.of(
                        System.getProperty("java.io.tmpdir"),
                        prefix + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        if (Files.exists(work)) {
            try (var entries = Files.list(work)) {
                if (entries.findAny().isPresent()) {
                    throw new IllegalArgumentException("directory " + work + " is not empty; pass --dir NEW_DIR");
                }
            }
        }
        return Files.createDirectories(work);
    }
}
