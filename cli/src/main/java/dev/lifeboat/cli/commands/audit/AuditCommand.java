package dev.lifeboat.cli.commands.audit;

import picocli.CommandLine.Command;

/** {@code lifeboat audit verify|list}: the controller's audit log. */
@Command(
        name = "audit",
        description = "The controller's tamper-evident audit log.",
        subcommands = {AuditVerifyCommand.class, AuditListCommand.class})
public final class AuditCommand {}
