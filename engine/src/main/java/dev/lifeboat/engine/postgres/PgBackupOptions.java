package dev.lifeboat.engine.postgres;

import dev.lifeboat.repository.compress.Compression;
import java.nio.file.Path;

/**
 * @param host     server host or socket directory; null reads the socket directory from postmaster.pid
 * @param port     server port; null reads it from postmaster.pid
 * @param user     database user (superuser or one with pg_backup_start/stop and REPLICATION rights)
 * @param parallel files read, chunked and compressed concurrently
 */
public record PgBackupOptions(
        Path pgdata, String host, Integer port, String user, String type, Compression compression, int parallel) {}
