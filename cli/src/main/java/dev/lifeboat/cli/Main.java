package dev.lifeboat.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import dev.lifeboat.util.Processes;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code lifeboat} command line: every operation an operator needs, with or without a controller. */
@Command(
        name = "lifeboat",
        mixinStandardHelpOptions = true,
        scope = CommandLine.ScopeType.INHERIT,
        versionProvider = Main.Version.class,
        description = "Backup and disaster recovery for PostgreSQL.",
        subcommands = {
            RepoInitCommand.class,
            BackupCommand.class,
            ListCommand.class,
            RestoreCommand.class,
            VerifyCommand.class,
            GcCommand.class,
            ExpireCommand.class,
            WalPushCommand.class,
            WalGetCommand.class,
            WalStreamCommand.class,
            WalSpoolWorkerCommand.class,
            RecoveryEndCommand.class,
            RestorePointCommand.class,
            UnlockCommand.class,
            RebuildIndexCommand.class,
            ReplicationCommand.class,
            PkiCommand.class,
            AgentCommand.class,
            JobsCommand.class,
            ControllerCommand.class,
            StatusCommand.class,
            RunCommand.class,
            AlertsCommand.class,
            AuditCommand.class,
            QuickstartCommand.class,
            CommandLine.HelpCommand.class
        })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (used by tests in-process). */
    public static int run(String... args) {
        configureLogging(args);
        CommandLine cl = new CommandLine(new Main());
        cl.setDefaultValueProvider(new SettingsDefaults(SettingsDefaults.configFileFrom(args)));
        cl.setExecutionExceptionHandler(new ErrorHandler());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        try {
            return cl.execute(args);
        } catch (Error e) {
            // e.g. a native library that cannot load: say what broke, with the trace, and fail
            e.printStackTrace(System.err);
            System.err.println("lifeboat: internal error: " + e);
            return 1;
        }
    }

    private static void configureLogging(String[] args) {
        boolean verbose = false;
        for (String a : args) {
            if (a.equals("-v") || a.equals("--verbose")) {
                verbose = true;
            }
        }
        if (System.getenv("LIFEBOAT_DEBUG") != null) {
            verbose = true;
        }
        Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(verbose ? Level.INFO : Level.WARN);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"lifeboat " + (v == null ? "dev" : v), "Java " + Runtime.version()};
        }
    }

    /** File-system exceptions carry only the path as their message: say what went wrong with it. */
    static String describe(Exception ex) {
        if (ex instanceof AccessDeniedException a) {
            return "permission denied: " + a.getFile() + " (running as " + Processes.currentUser() + ")";
        }
        if (ex instanceof NoSuchFileException n) {
            return "no such file or directory: " + n.getFile();
        }
        if (ex instanceof FileAlreadyExistsException f) {
            return "already exists: " + f.getFile();
        }
        return ex.getMessage() == null ? ex.getClass().getSimpleName() : ex.getMessage();
    }

    /** Turns known errors into one clear line and a non-zero exit; stack traces only with --verbose. */
    static final class ErrorHandler implements CommandLine.IExecutionExceptionHandler {
        @Override
        public int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parse) {
            boolean verbose = parse.expandedArgs().contains("-v")
                    || parse.expandedArgs().contains("--verbose")
                    || System.getenv("LIFEBOAT_DEBUG") != null;
            if (verbose) {
                ex.printStackTrace(System.err);
            }
            String msg = describe(ex);
            System.err.println(cl.getCommandSpec().qualifiedName() + ": error: " + msg);
            return ex instanceof ExitCodeException e ? e.code : 1;
        }
    }

    /** Raised by a command that has already printed its result and must still exit non-zero. */
    static final class ExitCodeException extends RuntimeException {
        final int code;

        ExitCodeException(int code, String message) {
            super(message);
            this.code = code;
        }
    }

    static Path home() {
        return Path.of(System.getProperty("user.home"));
    }
}
