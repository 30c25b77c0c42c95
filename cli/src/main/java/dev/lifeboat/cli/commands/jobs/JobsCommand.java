package dev.lifeboat.cli.commands.jobs;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code lifeboat jobs submit|watch|cancel|list}: drives one agent's Jobs API directly (no controller needed). */
@Command(
        name = "jobs",
        description = "Submit, watch, cancel and list jobs on a region agent directly over gRPC.",
        subcommands = {JobsSubmitCommand.class, JobsWatchCommand.class, JobsCancelCommand.class, JobsListCommand.class})
public final class JobsCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
