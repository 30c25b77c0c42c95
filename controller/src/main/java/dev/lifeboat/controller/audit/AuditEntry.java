package dev.lifeboat.controller.audit;

import java.time.Instant;

/**
 * One row of the audit chain.
 *
 * @param seq      position in the chain, 1 for the first entry, gap-free
 * @param at       when it was appended (microsecond precision, as the database stores it)
 * @param actor    who: a token's subject, an agent's certificate name, or {@code controller} for its own decisions
 * @param action   what, e.g. {@code restore.start}, {@code policy.update}, {@code job.completed}
 * @param target   what it was done to (a database, agent, policy or job id); may be null
 * @param detail   JSON text with the particulars; may be null
 * @param prevHash the previous entry's hash ({@link AuditLog#GENESIS} for the first)
 * @param hash     HMAC-SHA-256 of this entry's fields and {@code prevHash}, hex
 */
public record AuditEntry(
        long seq,
        Instant at,
        String actor,
        String action,
        String target,
        String detail,
        String prevHash,
        String hash) {}
