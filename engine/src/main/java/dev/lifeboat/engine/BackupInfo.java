package dev.lifeboat.engine;

import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;

/**
 * The engine section of a backup manifest ({@code engineInfo}): what the engine that took the backup recorded about
 * it, as a typed record of that engine (e.g. {@code PostgresBackupInfo}), stored as
 * {@code {"engine": NAME, "version": N, …the engine's fields}} (see {@link BackupInfoJson} for how sections of every
 * version, and the string maps of manifests written before sections existed, are read).
 * <p>
 * Repository code (retention, expire, WAL verification, listing, the repository's cluster binding) reads a backup's
 * engine facts only through the generic view below, never through an engine's own fields. A value a manifest does
 * not record (older manifests, hand-made test manifests) is 0 or null.
 */
@JsonSerialize(using = BackupInfoJson.Writer.class)
@JsonDeserialize(using = BackupInfoJson.Reader.class)
public interface BackupInfo {
    /** The engine that wrote the section, e.g. {@code postgresql}; {@link Engines#get} finds it. */
    String engine();

    /** The version of the engine's section format this value was read from or is written as. */
    int version();

    /** The section as the manifest stores it: {@code engine}, {@code version}, then the engine's fields. */
    ObjectNode toJson();

    /** The identifier of the database system the backup was taken from (the repository's binding); 0 if unknown. */
    long systemIdentifier();

    /** The server's version as it reported it (e.g. {@code 15.8}); null if unknown. */
    String serverVersion();

    /** The timeline (line of WAL history) the backup was taken on; 0 if unknown. */
    int timeline();

    /** Where replay from this backup starts reading WAL (LSN); 0 if unknown. */
    long startLsn();

    /** Where the backup ends: the first LSN at which a restore of it is consistent; 0 if unknown. */
    long stopLsn();

    /** The size of the source's WAL segments in bytes; 0 if unknown. */
    long walSegmentSize();

    /** The engine's fields for {@code lifeboat list --json} and job results, in the order they are shown. */
    Map<String, Object> summary();
}
