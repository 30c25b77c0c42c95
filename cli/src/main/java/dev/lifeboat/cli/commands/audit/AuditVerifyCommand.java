package dev.lifeboat.cli.commands.audit;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.cli.options.ControllerOptions;
import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.controller.Controller;
import dev.lifeboat.controller.ControllerConfig;
import dev.lifeboat.controller.audit.AuditLog;
import dev.lifeboat.controller.db.Database;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "verify",
        description = "Re-check the audit log's hash chain: exits 3 at the first edited, removed or reordered entry. "
                + "Asks the running controller, or with --config reads the controller's database directly "
                + "(controller stopped, or PostgreSQL).")
public final class AuditVerifyCommand implements Callable<Integer> {
    @Mixin
    ControllerOptions controller;

    @Mixin
    OutputOptions output;

    @Option(
            names = "--config",
            paramLabel = "FILE",
            description = "The controller's config: verify its database offline.")
    Path config;

    @Override
    public Integer call() throws Exception {
        boolean ok;
        long checked;
        long bad;
        String problem;
        if (config != null) {
            ControllerConfig c = ControllerConfig.load(config);
            try (Database db = Database.open(
                    c.database.url,
                    c.database.user,
                    c.database.passwordEnv != null ? System.getenv(c.database.passwordEnv) : c.database.password,
                    Path.of(c.stateDir))) {
                // never create a key here: a missing key file means the chain cannot be checked
                Path keyFile = Path.of(c.stateDir, "audit.key");
                if (!Files.exists(keyFile)) {
                    throw new IllegalArgumentException("no audit key at " + keyFile + ": is state-dir right?");
                }
                AuditLog.VerifyResult r = new AuditLog(db.dataSource(), AuditLog.loadOrCreateKey(keyFile))
                        .verify(AuditLog.readAnchor(Path.of(c.stateDir, Controller.AUDIT_HEAD))
                                .orElse(null));
                ok = r.ok();
                checked = r.entriesChecked();
                bad = r.firstBadSeq();
                problem = r.problem();
            }
        } else {
            JsonNode r = controller.client().get("api/v1/audit/verify");
            ok = r.path("ok").asBoolean();
            checked = r.path("entriesChecked").asLong();
            bad = r.path("firstBadSeq").asLong();
            problem = r.path("problem").asText(null);
        }
        if (output.json()) {
            output.printJson(Map.of(
                    "ok",
                    ok,
                    "entriesChecked",
                    checked,
                    "firstBadSeq",
                    bad,
                    "problem",
                    problem == null ? "" : problem));
        } else if (ok) {
            System.out.printf("audit log intact: %d entries, chain verified%n", checked);
        } else {
            System.out.printf("audit log TAMPERED at entry %d: %s (%d entries checked)%n", bad, problem, checked);
        }
        return ok ? 0 : 3;
    }
}
