package dev.lifeboat.repository;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** One backup as {@code lifeboat list --json} and {@code backup --json} show it (and agents report it). */
public final class SnapshotSummary {
    private SnapshotSummary() {}

    public static Map<String, Object> of(Snapshot s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", s.id());
        m.put("type", s.type());
        m.put("startTime", s.startTime().toString());
        m.put("stopTime", s.stopTime().toString());
        m.putAll(s.engineInfo().summary()); // the engine's own: PostgreSQL's LSNs, timeline, version, system id
        m.put("host", s.host());
        m.put("pgdata", s.sourceDirectory());
        m.put("compression", s.compression());
        m.put("files", s.stats().files());
        m.put("bytesRead", s.stats().bytesRead());
        m.put("bytesNew", s.stats().bytesNew());
        m.put("bytesStored", s.stats().bytesStored());
        m.put("size", s.totalFileBytes());
        m.put(
                "dedupRatio",
                Math.round(s.totalFileBytes() * 100.0 / Math.max(1, s.stats().bytesStored())) / 100.0);
        m.put("parent", s.parent());
        m.put("seconds", s.stats().seconds());
        m.put("tablespaces", s.tablespaces() == null ? List.of() : s.tablespaces());
        return m;
    }
}
