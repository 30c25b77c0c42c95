package dev.lifeboat.engine.postgres;

import dev.lifeboat.util.DurableFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The recovery settings a restore writes into {@code postgresql.auto.conf}, as one block that replaces any earlier
 * one and is removed again when recovery ends. Appending instead would let an old {@code recovery_target_time}
 * survive a promotion, be backed up with the promoted copy and stop the next restore of that backup early.
 */
public final class RecoverySettings {
    /** Settings a restore owns: any earlier value of these is replaced. */
    static final Set<String> OWNED = Set.of(
            "restore_command",
            "recovery_target",
            "recovery_target_name",
            "recovery_target_time",
            "recovery_target_xid",
            "recovery_target_lsn",
            "recovery_target_inclusive",
            "recovery_target_timeline",
            "recovery_target_action",
            "recovery_end_command");

    static final String HEADER = "# recovery settings written by lifeboat restore";
    private static final String LEGACY_HEADER = "# point-in-time recovery written by lifeboat restore";
    private static final String ARCHIVE_OFF_COMMENT =
            "# this copy does not archive WAL (lifeboat restore --archive-mode off)";
    private static final Pattern NAME = Pattern.compile("^([A-Za-z_][A-Za-z0-9_.]*)\\s*(=|\\s|$)");

    private RecoverySettings() {}

    /**
     * {@code conf} without any earlier recovery settings, then this restore's block.
     *
     * @param archiveOff also replace archive_mode with {@code off} (the copy must not archive into its source's
     * repository)
     */
    static String replace(
            String conf,
            String description,
            String restoreCommand,
            String targetSettings,
            String endCommand,
            boolean archiveOff) {
        StringBuilder out = new StringBuilder(without(conf, archiveOff));
        out.append(HEADER)
                .append(" (")
                .append(description)
                .append("); removed when recovery ends\n")
                .append("restore_command = '")
                .append(restoreCommand.replace("'", "''"))
                .append("'\n")
                .append(targetSettings)
                .append("recovery_end_command = '")
                .append(endCommand.replace("'", "''"))
                .append("'\n");
        if (archiveOff) {
            out.append(ARCHIVE_OFF_COMMENT)
                    .append("; ALTER SYSTEM RESET archive_mode to undo\n")
                    .append("archive_mode = 'off'\n");
        }
        return out.toString();
    }

    /**
     * The file without the settings a restore owns and the comment that introduces them; with {@code archiveMode}
     * also without archive_mode. Names are matched case-insensitively, as PostgreSQL reads them.
     */
    static String without(String conf, boolean archiveMode) {
        StringBuilder sb = new StringBuilder();
        conf.lines().forEach(line -> {
            String t = line.strip();
            Matcher m = NAME.matcher(t);
            String name = m.find() ? m.group(1).toLowerCase(Locale.ROOT) : null;
            boolean ourComment = t.startsWith(HEADER)
                    || t.startsWith(LEGACY_HEADER)
                    || archiveMode && t.startsWith(ARCHIVE_OFF_COMMENT);
            boolean owned = name != null && (OWNED.contains(name) || archiveMode && name.equals("archive_mode"));
            if (!ourComment && !owned) {
                sb.append(line).append('\n');
            }
        });
        return sb.toString();
    }

    /**
     * Removes the recovery settings from {@code pgdata/postgresql.auto.conf} (the recovery_end_command a restore
     * writes runs this once PostgreSQL has finished recovery); archive_mode stays as the restore set it.
     *
     * @return whether anything was removed
     */
    static boolean removeFrom(Path pgdata) throws IOException {
        Path auto = pgdata.resolve("postgresql.auto.conf");
        if (!Files.exists(auto)) {
            return false;
        }
        String before = Files.readString(auto);
        String after = without(before, false);
        if (after.equals(before)) {
            return false;
        }
        DurableFiles.replace(auto, after.getBytes(StandardCharsets.UTF_8), Files.getPosixFilePermissions(auto), null);
        return true;
    }

    /** Public entry for the recovery-end command. */
    public static boolean removeRecoverySettings(Path pgdata) throws IOException {
        return removeFrom(pgdata);
    }
}
