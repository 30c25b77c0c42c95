package dev.lifeboat.cli.commands.repo;

import dev.lifeboat.cli.ExitCodeException;
import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.cli.output.ProgressDisplay;
import dev.lifeboat.cli.output.SignalCancellation;
import dev.lifeboat.cli.output.Sizes;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.Verifier;
import dev.lifeboat.repository.WalVerifier;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "verify", description = "Check that backups and the WAL archive are complete and undamaged.")
public final class VerifyCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Mixin
    OutputOptions output;

    @Option(
            names = "--backup",
            paramLabel = "ID",
            description = "Check only this backup (default: all, and the WAL archive).")
    String backup;

    @Option(
            names = "--read-data",
            description = "Read every stored byte a restore would use: re-hash every chunk, rebuild every "
                    + "delta block, recompute every file digest, and check every archived WAL file's pages and "
                    + "records.")
    boolean readData;

    @Option(
            names = "--parallel",
            defaultValue = "2",
            description = "Packs (and WAL batches) read in parallel. Default: ${DEFAULT-VALUE}.")
    int parallel;

    @Override
    public Integer call() throws Exception {
        Repository r = repo.open();
        Verifier.Report rep;
        try (SignalCancellation signal = output.cancelOnSignal();
                ProgressDisplay progress = output.progress()) {
            rep = new Verifier(r).verify(backup, readData, parallel, progress, signal.cancellation());
        }
        if (output.json()) {
            output.printJson(new LinkedHashMap<>(Map.of("ok", rep.ok(), "report", rep)));
        } else {
            System.out.printf(
                    "verified %d backup(s), %d files, %d chunks in %d packs%s in %.1f s%n",
                    rep.backups().size(),
                    rep.files(),
                    rep.chunks(),
                    rep.packs(),
                    rep.readData() ? ", " + Sizes.format(rep.bytesRead()) + " read" : "",
                    rep.seconds());
            if (rep.readData()) {
                System.out.printf(
                        "  %d file digests recomputed from the data a restore writes, %d delta blocks rebuilt%n",
                        rep.filesDigested(), rep.deltaBlocks());
            }
            WalVerifier.Summary w = rep.wal();
            if (w != null) {
                System.out.printf(
                        "  WAL archive: %d segments, %d partial, %d history files on timelines %s%s in %.1f s%n",
                        w.segments(),
                        w.partials(),
                        w.historyFiles(),
                        w.timelines(),
                        rep.readData()
                                ? "; " + w.filesRead() + " files read and authenticated, records of "
                                        + w.segmentsRecordsChecked() + " segments checked"
                                : "",
                        w.seconds());
                w.notes().forEach(n -> System.out.println("  note: " + n));
            }
            for (Verifier.Problem p : rep.problems()) {
                System.out.println("  PROBLEM" + (p.backup() == null ? "" : " backup " + p.backup())
                        + (p.timeline() == null ? "" : " timeline " + p.timeline())
                        + (p.file() == null ? "" : " file " + p.file()) + ": " + p.detail());
            }
            System.out.println(rep.ok() ? "ok" : rep.problems().size() + " problem(s) found");
        }
        if (!rep.ok()) {
            throw new ExitCodeException(3, rep.problems().size() + " problem(s) found in " + r.uri());
        }
        return 0;
    }
}
