package dev.lifeboat.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import dev.lifeboat.cli.commands.audit.AuditCommand;
import dev.lifeboat.cli.commands.backup.BackupCommand;
import dev.lifeboat.cli.commands.controlplane.AgentCommand;
import dev.lifeboat.cli.commands.controlplane.AlertsCommand;
import dev.lifeboat.cli.commands.controlplane.ControllerCommand;
import dev.lifeboat.cli.commands.controlplane.RunCommand;
import dev.lifeboat.cli.commands.controlplane.StatusCommand;
import dev.lifeboat.cli.commands.jobs.JobsCommand;
import dev.lifeboat.cli.commands.pki.PkiCommand;
import dev.lifeboat.cli.commands.quickstart.QuickstartCommand;
import dev.lifeboat.cli.commands.replication.ReplicationCommand;
import dev.lifeboat.cli.commands.repo.ExpireCommand;
import dev.lifeboat.cli.commands.repo.GcCommand;
import dev.lifeboat.cli.commands.repo.ListCommand;
import dev.lifeboat.cli.commands.repo.RebuildIndexCommand;
import dev.lifeboat.cli.commands.repo.RepoInitCommand;
import dev.lifeboat.cli.commands.repo.UnlockCommand;
import dev.lifeboat.cli.commands.repo.VerifyCommand;
import dev.lifeboat.cli.commands.restore.RecoveryEndCommand;
import dev.lifeboat.cli.commands.restore.RestoreCommand;
import dev.lifeboat.cli.commands.restore.RestorePointCommand;
import dev.lifeboat.cli.commands.sandbox.SandboxCommand;
import dev.lifeboat.cli.commands.wal.WalGetCommand;
import dev.lifeboat.cli.commands.wal.WalPushCommand;
import dev.lifeboat.cli.commands.wal.WalSpoolWorkerCommand;
import dev.lifeboat.cli.commands.wal.WalStreamCommand;
import dev.lifeboat.cli.options.LoggingOptions;
import dev.lifeboat.cli.options.SettingsDefaults;
import dev.lifeboat.repository.crypto.CryptoProvider;
import dev.lifeboat.util.Processes;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.util.Arrays;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code lifeboat} command line: every operation an operator needs, with or without a controller.
 *
 * <p>Each subcommand is one class under {@code commands/<group>/} (a command with subcommands, like {@code jobs},
 * has its own group: the group command and one class per subcommand). The options commands share are mixins in
 * {@code options/}: {@link dev.lifeboat.cli.options.OutputOptions} gives every command that prints a result the same
 * {@code --json}, {@code -q/--quiet} and {@code -v/--verbose} (and cancels its engine operation on Ctrl-C or
 * SIGTERM); the hooks PostgreSQL runs and the daemons take {@link LoggingOptions} ({@code -v}) alone. Where a command
 * words a shared flag's help its own way, the words are in {@code OutputHelp.properties}.
 */
@Command(
        name = "lifeboat",
        mixinStandardHelpOptions = true,
        scope = CommandLine.ScopeType.INHERIT,
        resourceBundle = "dev.lifeboat.cli.options.OutputHelp",
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
            SandboxCommand.class,
            CommandLine.HelpCommand.class
        })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        CryptoProvider.preload(); // unpacks and loads native code (~0.25 s) while the command line is parsed
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

    /** Before anything is parsed (or logged): -v or LIFEBOAT_DEBUG turns on logging. */
    private static void configureLogging(String[] args) {
        boolean verbose = LoggingOptions.requested(Arrays.asList(args));
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
            return new String[] {
                "lifeboat " + (v == null ? "dev" : v),
                "Java " + Runtime.version(),
                "Crypto: " + CryptoProvider.describe()
            };
        }
    }

    /** File-system exceptions carry only the path as their message: say what went wrong with it. */
    public static String describe(Exception ex) {
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
            boolean verbose = LoggingOptions.requested(parse.expandedArgs());
            if (verbose) {
                ex.printStackTrace(System.err);
            }
            String msg = describe(ex);
            System.err.println(cl.getCommandSpec().qualifiedName() + ": error: " + msg);
            return ex instanceof ExitCodeException e ? e.code() : 1;
        }
    }
}
