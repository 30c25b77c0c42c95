package dev.lifeboat.controller.policy;

import dev.lifeboat.controller.ControllerConfig;
import dev.lifeboat.controller.ControllerConfig.DatabaseSpec;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The databases the controller is responsible for, each with its agent and resolved policy. */
public final class Inventory {
    public record ManagedDatabase(String name, String agent, Policy policy, List<String> regions) {}

    private final Map<String, Policy> policies = new LinkedHashMap<>();
    private final Map<String, ManagedDatabase> databases = new LinkedHashMap<>();

    public Inventory(ControllerConfig config) {
        for (Tier t : Tier.values()) {
            policies.put(t.name(), Policy.of(t));
        }
        config.policies.forEach((name, spec) -> policies.put(name, Policy.of(name, spec)));
        for (DatabaseSpec d : config.databases) {
            Policy p = policies.get(d.policy);
            if (p == null) {
                p = Policy.of(Tier.parse(d.policy));
            }
            if (databases.put(d.name, new ManagedDatabase(d.name, d.agent, p, List.copyOf(d.regions))) != null) {
                throw new IllegalArgumentException("database " + d.name + " is listed twice");
            }
        }
    }

    public Collection<ManagedDatabase> databases() {
        return databases.values();
    }

    public Optional<ManagedDatabase> database(String name) {
        return Optional.ofNullable(databases.get(name));
    }

    public ManagedDatabase require(String name) {
        return database(name)
                .orElseThrow(() -> new IllegalArgumentException("unknown database '" + name
                        + "' (the controller config lists: " + String.join(", ", databases.keySet()) + ")"));
    }

    public Collection<Policy> policies() {
        return policies.values();
    }
}
