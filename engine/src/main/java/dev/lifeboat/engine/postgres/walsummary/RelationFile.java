package dev.lifeboat.engine.postgres.walsummary;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A relation data file named by its path in PGDATA: which relation (tablespace, database and relfilenode OIDs), which
 * fork and which 1 GiB segment ({@code relpath} and {@code _mdfd_segpath} in PostgreSQL).
 *
 * @param fork PostgreSQL's fork number: 0 main, 1 fsm, 2 vm, 3 init
 */
public record RelationFile(int tablespace, int database, int relfilenode, int fork, int segment) {
    static final int DEFAULT_TABLESPACE = 1663; // DEFAULTTABLESPACE_OID
    static final int GLOBAL_TABLESPACE = 1664; // GLOBALTABLESPACE_OID
    public static final int MAIN_FORK = 0;

    private static final Pattern PATH = Pattern.compile(
            "(?:base/(\\d+)|global|pg_tblspc/(\\d+)/PG_[^/]+/(\\d+))/(\\d+)(?:_(fsm|vm|init))?(?:\\.(\\d+))?");

    /** The relation file at {@code relPath} (relative to PGDATA), or null if it names none. */
    public static RelationFile parse(String relPath) {
        Matcher m = PATH.matcher(relPath);
        if (!m.matches()) {
            return null;
        }
        try {
            int spc;
            int db;
            if (m.group(1) != null) {
                spc = DEFAULT_TABLESPACE;
                db = oid(m.group(1));
            } else if (m.group(2) != null) {
                spc = oid(m.group(2));
                db = oid(m.group(3));
            } else {
                spc = GLOBAL_TABLESPACE;
                db = 0;
            }
            int fork = m.group(5) == null
                    ? MAIN_FORK
                    : switch (m.group(5)) {
                        case "fsm" -> 1;
                        case "vm" -> 2;
                        default -> 3;
                    };
            int segment = m.group(6) == null ? 0 : Integer.parseInt(m.group(6));
            return new RelationFile(spc, db, oid(m.group(4)), fork, segment);
        } catch (NumberFormatException e) {
            return null; // not an OID: not a file PostgreSQL made
        }
    }

    /** An OID (unsigned 32 bits) as the int WAL records carry. */
    private static int oid(String s) {
        return (int) Long.parseLong(s);
    }
}
