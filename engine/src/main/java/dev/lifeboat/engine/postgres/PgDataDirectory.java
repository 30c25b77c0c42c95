package dev.lifeboat.engine.postgres;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** Facts read straight from a PostgreSQL data directory, without a server. */
public final class PgDataDirectory {
    private final Path dir;

    public PgDataDirectory(Path dir) {
        this.dir = dir.toAbsolutePath().normalize();
    }

    public Path path() {
        return dir;
    }

    /** Fails with a clear message unless the directory looks like a PostgreSQL cluster. */
    public PgDataDirectory requireCluster() {
        if (!Files.isDirectory(dir)) {
            throw new PgException("PGDATA " + dir + " does not exist or is not a directory");
        }
        if (!Files.isRegularFile(dir.resolve("PG_VERSION")) || !Files.isRegularFile(dir.resolve("global/pg_control"))) {
            throw new PgException(
                    "PGDATA " + dir + " is not a PostgreSQL data directory (no PG_VERSION or global/pg_control)");
        }
        return this;
    }

    public String majorVersion() throws IOException {
        return Files.readString(dir.resolve("PG_VERSION")).strip();
    }

    /** The cluster's system identifier: the first field of pg_control (host byte order, little-endian here). */
    public long systemIdentifier() throws IOException {
        byte[] b = new byte[8];
        try (var in = Files.newInputStream(dir.resolve("global/pg_control"))) {
            if (in.readNBytes(b, 0, 8) != 8) {
                throw new PgException("global/pg_control in " + dir + " is truncated");
            }
        }
        return ByteBuffer.wrap(b).order(ByteOrder.nativeOrder()).getLong();
    }

    /** Port and socket directory of the running server, from postmaster.pid. */
    public record Postmaster(long pid, int port, String socketDirectory, String listenAddress) {}

    public Optional<Postmaster> postmaster() throws IOException {
        Path pidFile = dir.resolve("postmaster.pid");
        if (!Files.isRegularFile(pidFile)) {
            return Optional.empty();
        }
        List<String> lines = Files.readAllLines(pidFile);
        if (lines.size() < 4) {
            return Optional.empty();
        }
        String socket = lines.size() > 4 ? lines.get(4).strip() : "";
        String listen = lines.size() > 5 ? lines.get(5).strip() : "";
        return Optional.of(new Postmaster(
                Long.parseLong(lines.get(0).strip()),
                Integer.parseInt(lines.get(3).strip()),
                socket,
                listen));
    }

    public String owner() throws IOException {
        return Files.getOwner(dir).getName();
    }
}
