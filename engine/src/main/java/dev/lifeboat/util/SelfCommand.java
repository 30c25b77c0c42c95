package dev.lifeboat.util;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How to run this very lifeboat from another process (PostgreSQL's restore_command, background helpers):
 * the launcher script when we were started through it (it exports LIFEBOAT_BIN), else this JVM and class path.
 */
public final class SelfCommand {
    private SelfCommand() {}

    public static List<String> command() {
        String launcher = System.getProperty("lifeboat.launcher");
        if (launcher != null) {
            return List.of(launcher);
        }
        String bin = System.getenv("LIFEBOAT_BIN");
        if (bin != null && Files.isExecutable(Path.of(bin))) {
            return List.of(bin);
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.lifeboat.cli.Main");
        return cmd;
    }

    /** The command as one shell-quoted string (for postgresql.conf settings such as restore_command). */
    public static String shellCommand(List<String> extraArgs) {
        List<String> all = new ArrayList<>(command());
        all.addAll(extraArgs);
        StringBuilder sb = new StringBuilder();
        for (String a : all) {
            if (!sb.isEmpty()) {
                sb.append(' ');
            }
            sb.append(a.startsWith("%") || a.matches("[A-Za-z0-9_./:=@+-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
        }
        return sb.toString();
    }
}
