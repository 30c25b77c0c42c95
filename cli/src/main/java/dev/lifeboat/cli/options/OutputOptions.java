package dev.lifeboat.cli.options;

import dev.lifeboat.cli.output.ProgressDisplay;
import dev.lifeboat.cli.output.SignalCancellation;
import dev.lifeboat.util.Json;
import java.time.Duration;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The flags every command that prints a result shares, with one meaning everywhere:
 *
 * <ul>
 *   <li>{@code --json}: the result goes to stdout as JSON, and nothing else does (no progress either);
 *   <li>{@code -q/--quiet}: no progress or status output (stderr); the result is still printed;
 *   <li>{@code -v/--verbose} ({@link LoggingOptions}): log what happens, and stack traces on errors.
 * </ul>
 *
 * <p>A command that runs an engine operation takes its {@link dev.lifeboat.progress.Cancellation} from
 * {@link #cancelOnSignal()}, so Ctrl-C or SIGTERM cancels the operation the same way in every command. Where a
 * command words a flag's help its own way, the words are in {@code OutputHelp.properties} under the command's name.
 */
public final class OutputOptions {
    @Mixin
    LoggingOptions logging;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Option(
            names = {"-q", "--quiet"},
            description = "No progress output.")
    boolean quiet;

    public boolean json() {
        return json;
    }

    public boolean quiet() {
        return quiet;
    }

    public boolean verbose() {
        return logging.verbose();
    }

    /** Progress of an engine operation: drawn unless --quiet or --json. */
    public ProgressDisplay progress() {
        return new ProgressDisplay(quiet || json);
    }

    /** Prints the result as JSON on stdout. */
    public void printJson(Object result) {
        System.out.println(Json.pretty(result));
    }

    /**
     * How long the exit after Ctrl-C or SIGTERM waits for the cancelled operation to wind down: a backup ends its
     * backup on the server and releases its repository lock, a restore its lock and replay lease, instead of leaving
     * them to go stale. A second signal does not shorten it; SIGKILL does.
     */
    public static final Duration WIND_DOWN = Duration.ofSeconds(30);

    /** A cancellation that Ctrl-C or SIGTERM triggers until it is closed ("interrupted by signal"). */
    public SignalCancellation cancelOnSignal() {
        return SignalCancellation.install("interrupted by signal", WIND_DOWN);
    }

    /** The same, with the reason the operation is cancelled for, and how long the exit waits for it to wind down. */
    public SignalCancellation cancelOnSignal(String reason, Duration grace) {
        return SignalCancellation.install(reason, grace);
    }
}
