package dev.lifeboat.cli.commands.pki;

import java.time.Duration;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code lifeboat pki init|issue}: the CA and the certificates controller, agents and clients use for mutual TLS. */
@Command(
        name = "pki",
        description = "Certificates for mutual TLS between the controller, agents and clients: "
                + "'init' creates a CA, 'issue' signs a certificate for one controller, agent or client.",
        subcommands = {PkiInitCommand.class, PkiIssueCommand.class})
public final class PkiCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static Duration validity(int days) {
        if (days < 1) {
            throw new IllegalArgumentException("--days must be at least 1, was " + days);
        }
        return Duration.ofDays(days);
    }
}
