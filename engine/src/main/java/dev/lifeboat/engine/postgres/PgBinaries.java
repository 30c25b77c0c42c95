package dev.lifeboat.engine.postgres;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;

/** Finds PostgreSQL's server programs (Debian keeps them in /usr/lib/postgresql/VERSION/bin, off the PATH). */
public record PgBinaries(Path dir) {

    public Path tool(String name) {
        return dir.resolve(name);
    }

    public String path(String name) {
        return tool(name).toString();
    }

    /** The bin directory for a major version; LIFEBOAT_PG_BINDIR wins when set. */
    public static PgBinaries forVersion(String major) {
        String env = System.getenv("LIFEBOAT_PG_BINDIR");
        if (env != null && !env.isBlank()) {
            return new PgBinaries(Path.of(env));
        }
        if (major != null) {
            Path p = Path.of("/usr/lib/postgresql", major, "bin");
            if (Files.isExecutable(p.resolve("postgres"))) {
                return new PgBinaries(p);
            }
        }
        Optional<Path> newest = newestInstalled();
        if (newest.isPresent()) {
            return new PgBinaries(newest.get());
        }
        throw new IllegalStateException(
                "PostgreSQL " + (major == null ? "" : major + " ") + "server programs not found in "
                        + "/usr/lib/postgresql/*/bin; install postgresql-" + (major == null ? "15" : major)
                        + " or set LIFEBOAT_PG_BINDIR");
    }

    private static Optional<Path> newestInstalled() {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(p -> p.getFileName().toString().matches("\\d+"))
                    .filter(p -> Files.isExecutable(p.resolve("bin/postgres")))
                    .max(Comparator.comparingInt(
                            p -> Integer.parseInt(p.getFileName().toString())))
                    .map(p -> p.resolve("bin"));
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
