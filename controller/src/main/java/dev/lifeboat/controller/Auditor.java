package dev.lifeboat.controller;

import java.util.Map;

/** Where the controller's components record who did what (the audit chain, see {@code audit.AuditLog}). */
@FunctionalInterface
public interface Auditor {
    void record(String actor, String action, String target, Map<String, Object> detail);
}
