package dev.lifeboat.cli.output;

import dev.lifeboat.engine.postgres.PgValidator;

/** A restored copy's validation report as text ({@code restore --validate}, {@code quickstart}). */
public final class ValidationReportPrinter {
    private ValidationReportPrinter() {}

    public static void print(PgValidator.Report rep) {
        System.out.printf(
                "validation: %d files re-hashed (%s), server started in %.1f s%n",
                rep.filesChecked(), Sizes.format(rep.bytesChecked()), rep.startSeconds());
        for (PgValidator.DatabaseReport db : rep.databases()) {
            long rows =
                    db.tables().stream().mapToLong(PgValidator.TableCount::rows).sum();
            System.out.printf(
                    "  database %s: %d tables (%d rows) scanned, %d heap relations and %d B-tree indexes checked by "
                            + "amcheck, "
                            + "%d visibility maps checked by pg_visibility, %d unlogged tables checked empty, %d "
                            + "foreign keys checked%n",
                    db.name(),
                    db.tables().size(),
                    rows,
                    db.heapRelationsChecked(),
                    db.btreeIndexesChecked(),
                    db.visibilityRelationsChecked(),
                    db.unloggedTablesChecked(),
                    db.foreignKeys().size());
            for (PgValidator.TableCount t : db.tables()) {
                System.out.printf("    %-40s %12d rows%n", t.table(), t.rows());
            }
        }
        System.out.println(
                rep.ok() ? "validation passed" : "validation FAILED:\n  " + String.join("\n  ", rep.problems()));
    }
}
