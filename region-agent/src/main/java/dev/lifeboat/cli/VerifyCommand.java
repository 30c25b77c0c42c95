package dev.lifeboat.cli;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RepositoryLock;
import dev.lifeboat.repository.Verifier;
import dev.lifeboat.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "verify", description = "Check that backups are complete and undamaged.")
final class VerifyCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Option(names = "--backup", paramLabel = "ID", description = "Check only this backup (default: all).")
    String backup;

    @Option(names = "--read-data", description = "Read and authenticate every stored byte, not just the structure.")
    boolean readData;

    @Option(names = "--parallel", defaultValue = "2", description = "Packs read in parallel. Default: ${DEFAULT-VALUE}.")
    int parallel;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Option(names = {"-q", "--quiet"}, description = "No progress output.")
    boolean quiet;

    @Override
    public Integer call() throws Exception {
        Repository r = repo.open();
        Verifier.Report rep;
        try (RepositoryLock lock = RepositoryLock.shared(r, "verify", backup);
             ProgressDisplay progress = new ProgressDisplay(quiet || json)) {
            rep = new Verifier(r).verify(backup, readData, parallel, progress, new Cancellation());
        }
        if (json) {
            System.out.println(Json.pretty(new java.util.LinkedHashMap<>(java.util.Map.of("ok", rep.ok(), "report", rep))));
        } else {
            System.out.printf("verified %d backup(s), %d files, %d chunks in %d packs%s in %.1f s%n", rep.backups().size(), rep.files(),
                    rep.chunks(), rep.packs(), rep.readData() ? ", " + ListCommand.size(rep.bytesRead()) + " read" : "", rep.seconds());
            for (Verifier.Problem p : rep.problems()) {
                System.out.println("  PROBLEM" + (p.backup() == null ? "" : " backup " + p.backup())
                        + (p.file() == null ? "" : " file " + p.file()) + ": " + p.detail());
            }
            System.out.println(rep.ok() ? "ok" : rep.problems().size() + " problem(s) found");
        }
        if (!rep.ok()) {
            throw new Main.ExitCodeException(3, rep.problems().size() + " problem(s) found in " + r.uri());
        }
        return 0;
    }
}
