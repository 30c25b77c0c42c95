package dev.lifeboat.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lifeboat.controller.Controller;
import dev.lifeboat.controller.ControllerConfig;
import dev.lifeboat.controller.audit.AuditLog;
import dev.lifeboat.controller.db.Database;
import dev.lifeboat.util.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "audit",
        description = "The controller's tamper-evident audit log.",
        subcommands = {AuditCommand.Verify.class, AuditCommand.List.class})
final class AuditCommand {

    @Command(
            name = "verify",
            description =
                    "Re-check the audit log's hash chain: exits 3 at the first edited, removed or reordered entry. "
                            + "Asks the running controller, or with --config reads the controller's database directly "
                            + "(controller stopped, or PostgreSQL).")
    static final class Verify implements Callable<Integer> {
        @Mixin
        ControllerOptions controller;

        @Option(
                names = "--config",
                paramLabel = "FILE",
                description = "The controller's config: verify its database offline.")
        Path config;

        @Option(names = "--json", description = "Print the result as JSON.")
        boolean json;

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
            if (json) {
                System.out.println(Json.pretty(Map.of(
                        "ok",
                        ok,
                        "entriesChecked",
                        checked,
                        "firstBadSeq",
                        bad,
                        "problem",
                        problem == null ? "" : problem)));
            } else if (ok) {
                System.out.printf("audit log intact: %d entries, chain verified%n", checked);
            } else {
                System.out.printf("audit log TAMPERED at entry %d: %s (%d entries checked)%n", bad, problem, checked);
            }
            return ok ? 0 : 3;
        }
    }

    @Command(name = "list", description = "Print audit entries from the controller.")
    static final class List implements Callable<Integer> {
        @Mixin
        ControllerOptions controller;

        @Option(names = "--after", defaultValue = "0", description = "Only entries after this sequence number.")
        long after;

        @Option(names = "--limit", defaultValue = "100")
        int limit;

        @Option(names = "--json")
        boolean json;

        @Override
        public Integer call() throws Exception {
            JsonNode entries = controller.client().get("api/v1/audit?after=" + after + "&limit=" + limit);
            if (json) {
                System.out.println(Json.pretty(entries));
                return 0;
            }
            for (JsonNode e : entries) {
                System.out.printf(
                        "%6d %s %-24s %-22s %s %s%n",
                        e.path("seq").asLong(),
                        e.path("at").asText(),
                        e.path("actor").asText(),
                        e.path("action").asText(),
                        e.path("target").asText(),
                        e.path("detail").asText());
            }
            return 0;
        }
    }
}
