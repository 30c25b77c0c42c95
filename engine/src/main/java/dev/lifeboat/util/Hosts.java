package dev.lifeboat.util;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

public final class Hosts {
    private static final String NAME = resolve();

    private Hosts() {}

    /** This machine's host name, without a DNS lookup (which can hang on hosts with a broken resolver). */
    public static String name() {
        return NAME;
    }

    private static String resolve() {
        String env = System.getenv("HOSTNAME");
        if (env != null && !env.isBlank()) {
            return env.strip();
        }
        try {
            String s = Files.readString(Path.of("/etc/hostname")).strip();
            if (!s.isEmpty()) {
                return s;
            }
        } catch (IOException ignored) {
            // fall through
        }
        return "localhost";
    }
}
