package dev.lifeboat.cli.options;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Properties;
import picocli.CommandLine;

/**
 * Lets every option come from the environment or a config file, so operators and agents need not repeat flags:
 * {@code --key-file} is {@code LIFEBOAT_KEY_FILE} in the environment, or {@code key-file = …} in the config file
 * ({@code --config FILE}, else {@code $LIFEBOAT_CONFIG}, else {@code ~/.config/lifeboat/lifeboat.conf}, else
 * {@code /etc/lifeboat/lifeboat.conf}). Flags on the command line win, then the environment, then the file.
 */
public final class SettingsDefaults implements CommandLine.IDefaultValueProvider {
    private final Properties file = new Properties();

    public SettingsDefaults(Path configFile) {
        if (configFile != null) {
            try (Reader r = Files.newBufferedReader(configFile)) {
                file.load(r);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read config file " + configFile + ": " + e.getMessage());
            }
        }
    }

    public static Path configFileFrom(String[] args) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--config") && i + 1 < args.length) {
                return Path.of(args[i + 1]);
            }
            if (args[i].startsWith("--config=")) {
                return Path.of(args[i].substring("--config=".length()));
            }
        }
        String env = System.getenv("LIFEBOAT_CONFIG");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        for (Path p : new Path[] {
            Path.of(System.getProperty("user.home")).resolve(".config/lifeboat/lifeboat.conf"),
            Path.of("/etc/lifeboat/lifeboat.conf")
        }) {
            if (Files.isReadable(p)) {
                return p;
            }
        }
        return null;
    }

    @Override
    public String defaultValue(CommandLine.Model.ArgSpec arg) {
        if (!(arg instanceof CommandLine.Model.OptionSpec opt)) {
            return arg.defaultValue();
        }
        String name = opt.longestName().replaceFirst("^-+", "");
        if (name.equals("help") || name.equals("version") || name.equals("config")) {
            return opt.defaultValue();
        }
        String env = System.getenv("LIFEBOAT_" + name.toUpperCase(Locale.ROOT).replace('-', '_'));
        if (env != null) {
            return env;
        }
        String fromFile = file.getProperty(name);
        if (fromFile != null) {
            return fromFile.strip();
        }
        return opt.defaultValue();
    }
}
