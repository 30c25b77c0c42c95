package dev.lifeboat.cli.commands.repo;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.RepoOptions;
import dev.lifeboat.cli.output.Sizes;
import dev.lifeboat.engine.postgres.RecoveryCatalog;
import dev.lifeboat.engine.postgres.RecoveryPlanner;
import dev.lifeboat.repository.Repository;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "list", description = "List the backups in a repository.")
public final class ListCommand implements Callable<Integer> {
    @Mixin
    RepoOptions repo;

    @Mixin
    OutputOptions output;

    @Override
    public Integer call() throws Exception {
        Repository r = repo.open();
        RecoveryCatalog.Catalog catalog = RecoveryCatalog.read(r);
        List<Map<String, Object>> rows = catalog.backups();
        List<RecoveryPlanner.Window> windows = catalog.timelines();
        if (output.json()) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("repository", catalog.repository());
            out.put("backups", rows);
            out.put("timelines", windows);
            out.put("gaps", catalog.gaps());
            output.printJson(out);
            return 0;
        }
        if (rows.isEmpty()) {
            System.out.println("no backups in " + r.uri());
        } else {
            printBackups(rows);
        }
        for (var w : windows) {
            System.out.printf(
                    "timeline %d (%s%s): recoverable %s%s%n",
                    w.timeline(),
                    w.owner(),
                    w.source() ? "" : "; not on the source's history: restore it with --timeline " + w.timeline(),
                    w.earliest() == null
                            ? "nowhere (no backup on it)"
                            : "from " + w.earliest() + " to " + w.latest() + " (WAL up to " + w.latestSegment() + ")",
                    w.missingSegments().isEmpty() ? "" : "; MISSING WAL: " + String.join(", ", w.missingSegments()));
        }
        for (RecoveryCatalog.Gap g : catalog.gaps()) {
            System.out.printf(
                    "gap on timeline %d: %s is missing (archived WAL around it stored %s .. %s)%n",
                    g.timeline(),
                    g.segment(),
                    g.after() == null ? "?" : g.after(),
                    g.before() == null ? "?" : g.before());
        }
        if (catalog.note() != null) {
            System.out.println("note: restore --to-latest " + catalog.note());
        }
        return 0;
    }

    private static void printBackups(List<Map<String, Object>> rows) {
        System.out.printf(
                "%-22s %-5s %-20s %-20s %-12s %-12s %-3s %10s %10s %10s %8s%n",
                "ID", "TYPE", "START", "STOP", "START LSN", "STOP LSN", "TL", "SIZE", "READ", "STORED", "DEDUP");
        for (Map<String, Object> m : rows) {
            System.out.printf(
                    "%-22s %-5s %-20s %-20s %-12s %-12s %-3s %10s %10s %10s %7.1fx%n",
                    m.get("id"),
                    m.get("type"),
                    trimTime(m.get("startTime")),
                    trimTime(m.get("stopTime")),
                    m.get("startLsn"),
                    m.get("stopLsn"),
                    m.get("timeline"),
                    Sizes.format((Long) m.get("size")),
                    Sizes.format((Long) m.get("bytesRead")),
                    Sizes.format((Long) m.get("bytesStored")),
                    (Double) m.get("dedupRatio"));
        }
    }

    private static String trimTime(Object iso) {
        String s = String.valueOf(iso);
        return s.length() > 19 ? s.substring(0, 19).replace('T', ' ') : s;
    }
}
