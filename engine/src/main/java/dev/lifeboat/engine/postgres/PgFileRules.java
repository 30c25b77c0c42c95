package dev.lifeboat.engine.postgres;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What an online backup copies from PGDATA, following PostgreSQL's "Making a Base Backup Using the Low Level API"
 * and pg_basebackup: runtime and temporary files are skipped, directories whose contents are rebuilt at start-up are
 * kept empty, and unlogged relations keep only their init fork.
 */
final class PgFileRules {
    /**
     * Written by a restore into the data directory: when and from which backup. A cluster restored without a new
     * timeline continues an old line of LSNs, so backups taken before it was restored cannot vouch for its pages.
     */
    static final String RESTORE_MARKER = ClusterIdentity.MARKER;

    private static final Set<String> SKIP_FILES = Set.of(
            "postmaster.pid",
            "postmaster.opts",
            "backup_label",
            "tablespace_map",
            "backup_manifest",
            "postgresql.auto.conf.tmp",
            "current_logfiles.tmp",
            "pg_internal.init",
            "backup_label.old",
            RESTORE_MARKER);
    private static final Set<String> EMPTY_DIRS = Set.of(
            "pg_wal",
            "pg_replslot",
            "pg_dynshmem",
            "pg_notify",
            "pg_serial",
            "pg_snapshots",
            "pg_stat_tmp",
            "pg_subtrans");
    /** base/DB/REL, global/REL, pg_tblspc/OID/PG_x/DB/REL with an optional fork and segment number. */
    private static final Pattern RELATION =
            Pattern.compile("(?:base/\\d+|global|pg_tblspc/\\d+/PG_[^/]+/\\d+)/(\\d+)(?:_(fsm|vm|init))?(?:\\.\\d+)?");

    private static final Pattern TEMP_RELATION = Pattern.compile("t\\d+_\\d+.*");

    private PgFileRules() {}

    /** True for directories that are kept but whose contents are not copied. */
    static boolean keepEmpty(String relPath) {
        return EMPTY_DIRS.contains(relPath);
    }

    static boolean skipFile(String relPath, Path file) {
        String name = file.getFileName().toString();
        if (SKIP_FILES.contains(name)
                || name.startsWith("pgsql_tmp")
                || TEMP_RELATION.matcher(name).matches()) {
            return true;
        }
        Matcher m = RELATION.matcher(relPath);
        if (m.matches() && !"init".equals(m.group(2))) {
            // an unlogged relation is reset from its init fork at start-up: copy only that fork
            return Files.exists(file.resolveSibling(m.group(1) + "_init"));
        }
        return false;
    }

    static boolean skipDirectory(String name) {
        return name.startsWith("pgsql_tmp");
    }

    /** Relation data files change page by page in place: they get aligned fixed blocks rather than content-defined
     * cuts. */
    static boolean isRelationFile(String relPath) {
        return RELATION.matcher(relPath).matches();
    }
}
