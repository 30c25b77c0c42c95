package dev.lifeboat.controller.status;

import dev.lifeboat.proto.v1.MetricSample;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/** The newest value of every metric each agent pushed (names normalized to Prometheus style: dots become underscores).
 * */
public final class MetricStore {
    public record Sample(String agentId, String name, Map<String, String> labels, double value, Instant at) {}

    private final Map<String, Map<String, Sample>> byAgent = new ConcurrentHashMap<>();
    private final Map<String, Map<String, Sample>> byDatabase = new ConcurrentHashMap<>();

    public void put(String agentId, List<MetricSample> samples) {
        Map<String, Sample> m = byAgent.computeIfAbsent(agentId, k -> new ConcurrentHashMap<>());
        for (MetricSample s : samples) {
            String name = s.getName().replace('.', '_');
            Map<String, String> labels = new TreeMap<>(s.getLabelsMap());
            Instant at = s.hasAt()
                    ? Instant.ofEpochSecond(s.getAt().getSeconds(), s.getAt().getNanos())
                    : Instant.now();
            Sample sample = new Sample(agentId, name, labels, s.getValue(), at);
            m.put(name + labels, sample);
            String database = labels.get("database");
            if (database != null) {
                byDatabase
                        .computeIfAbsent(database, k -> new ConcurrentHashMap<>())
                        .put(agentId + name + labels, sample);
            }
        }
    }

    /** Samples of one metric whose labels include every given label. */
    public List<Sample> find(String name, Map<String, String> labels) {
        // most lookups name a database: only its samples are looked at (the overview asks for every database)
        String database = labels.get("database");
        List<Map<String, Sample>> scopes =
                database != null ? List.of(byDatabase.getOrDefault(database, Map.of())) : List.copyOf(byAgent.values());
        List<Sample> out = new ArrayList<>();
        for (Map<String, Sample> scope : scopes) {
            for (Sample s : scope.values()) {
                if (s.name().equals(name) && s.labels().entrySet().containsAll(labels.entrySet())) {
                    out.add(s);
                }
            }
        }
        return out;
    }
}
