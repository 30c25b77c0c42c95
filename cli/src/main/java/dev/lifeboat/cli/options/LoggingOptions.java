package dev.lifeboat.cli.options;

import java.util.Collection;
import picocli.CommandLine.Option;

/**
 * {@code -v/--verbose}: log what happens, and print stack traces on errors. {@link OutputOptions} includes it; the
 * commands that print no result (the hooks PostgreSQL runs, the daemons) take it alone. Logging is set up from the
 * raw arguments before anything is parsed ({@link #requested}), so the flag works the same on every command.
 */
public final class LoggingOptions {
    @Option(
            names = {"-v", "--verbose"},
            description = "Log what happens, and stack traces on errors.")
    boolean verbose;

    /** Whether -v/--verbose was given (or set from the environment or config file) for this command. */
    public boolean verbose() {
        return verbose;
    }

    /** Whether the command line asks for logging and stack traces: {@code -v}, {@code --verbose} or LIFEBOAT_DEBUG. */
    public static boolean requested(Collection<String> args) {
        return args.contains("-v") || args.contains("--verbose") || System.getenv("LIFEBOAT_DEBUG") != null;
    }
}
