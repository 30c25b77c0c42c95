package dev.lifeboat.kestra;

import io.kestra.core.models.property.Property;
import io.kestra.core.runners.RunContext;
import java.util.Map;

/** The recovery target properties RestorePitr and DrDrill share, as the agent's parameters. */
final class PitrTarget {
    private PitrTarget() {}

    static void put(
            RunContext rc,
            Map<String, Object> p,
            Property<String> targetTime,
            Property<String> targetLsn,
            Property<String> targetXid,
            Property<String> targetName,
            Property<Boolean> targetLatest,
            Property<Boolean> exclusive,
            Property<String> timeline)
            throws Exception {
        p.put("target_time", rc.render(targetTime).as(String.class).orElse(null));
        p.put("target_lsn", rc.render(targetLsn).as(String.class).orElse(null));
        p.put("target_xid", rc.render(targetXid).as(String.class).orElse(null));
        p.put("target_name", rc.render(targetName).as(String.class).orElse(null));
        p.put(
                "target_latest",
                rc.render(targetLatest)
                        .as(Boolean.class)
                        .filter(b -> b)
                        .map(String::valueOf)
                        .orElse(null));
        p.put(
                "exclusive",
                rc.render(exclusive).as(Boolean.class).map(String::valueOf).orElse(null));
        p.put("timeline", rc.render(timeline).as(String.class).orElse(null));
    }
}
