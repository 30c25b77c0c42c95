package dev.lifeboat.repository;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.lifeboat.engine.BackupInfo;
import java.time.Instant;
import java.util.List;

/**
 * One backup's manifest ({@code snapshots/<id>}): the engine's section, the file tree with each file's chunk list and
 * SHA-256, and statistics. It is written last, after every pack and index it references is durable.
 *
 * @param engine     the engine that took the backup ({@code postgresql}), as {@link BackupInfo#engine()} names it too
 * @param engineInfo the engine's section: a typed record of that engine, read by repository code only through the
 *                   generic view {@link BackupInfo} ({@code PostgresBackupInfo.of(snapshot)} gives PostgreSQL's)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record Snapshot(
        String id,
        String type,
        String engine,
        String parent,
        Instant startTime,
        Instant stopTime,
        String host,
        String sourceDirectory,
        String compression,
        BackupInfo engineInfo,
        List<Tablespace> tablespaces,
        List<FileEntry> files,
        Stats stats) {

    public enum Kind {
        FILE,
        DIRECTORY,
        SYMLINK
    }

    /**
     * @param path     path relative to the data directory ({@code pg_tblspc/<oid>/…} for tablespace contents)
     * @param chunks   hex chunk ids in file order (files only)
     * @param target   link target (symlinks only)
     * @param stamp    what the file system said about the file when the backup listed it (files only; absent in
     *                 manifests written before it existed): the next incremental takes the file over unread only if
     *                 the stamp is unchanged
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record FileEntry(
            String path,
            Kind kind,
            int mode,
            String owner,
            String group,
            long mtimeMillis,
            long size,
            String digest,
            List<String> chunks,
            String target,
            Stamp stamp) {
        public FileEntry(
                String path,
                Kind kind,
                int mode,
                String owner,
                String group,
                long mtimeMillis,
                long size,
                String digest,
                List<String> chunks,
                String target) {
            this(path, kind, mode, owner, group, mtimeMillis, size, digest, chunks, target, null);
        }

        public FileEntry withStamp(Stamp s) {
            return new FileEntry(path, kind, mode, owner, group, mtimeMillis, size, digest, chunks, target, s);
        }
    }

    /**
     * A file's identity and change times: device and inode, and ctime and mtime in nanoseconds. Every write, truncate
     * or extension of a file sets both times to the current clock; ctime cannot be set by a user (restoring tools
     * that keep mtimes cannot fake it), and a file replaced by rename has another inode.
     */
    public record Stamp(long device, long inode, long ctimeNanos, long mtimeNanos) {}

    public record Tablespace(String oid, String name, String location) {}

    /**
     * @param bytesRead      bytes read from the source
     * @param bytesNew       plaintext bytes of chunks the repository did not have yet
     * @param bytesStored    bytes this backup added to the repository (packs, indexes, manifest)
     */
    public record Stats(
            long bytesRead, long bytesNew, long bytesStored, long files, long chunks, long newChunks, double seconds) {}

    public long totalFileBytes() {
        return files.stream()
                .filter(f -> f.kind() == Kind.FILE)
                .mapToLong(FileEntry::size)
                .sum();
    }
}
