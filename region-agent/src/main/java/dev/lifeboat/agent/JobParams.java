package dev.lifeboat.agent;

import dev.lifeboat.repository.RetentionPolicy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A job's {@code params} with typed getters. Unknown keys are refused (a typo must not silently fall back to a
 * default), and every error names the job type and the key.
 */
public final class JobParams {
    private final String job;
    private final Map<String, String> values;

    JobParams(String job, Map<String, String> values, Set<String> allowed) {
        this.job = job;
        this.values = values;
        for (String k : values.keySet()) {
            if (!allowed.contains(k)) {
                throw new IllegalArgumentException(job + ": unknown parameter '" + k + "'; "
                        + (allowed.isEmpty()
                                ? "this job takes none"
                                : "it takes " + String.join(", ", new TreeSet<>(allowed))));
            }
        }
    }

    private IllegalArgumentException bad(String key, String problem) {
        return new IllegalArgumentException(job + ": parameter " + key + " " + problem);
    }

    public boolean has(String key) {
        String v = values.get(key);
        return v != null && !v.isBlank();
    }

    public String string(String key, String dflt) {
        String v = values.get(key);
        return v == null || v.isBlank() ? dflt : v.strip();
    }

    public int integer(String key, int dflt, int min, int max) {
        if (!has(key)) {
            return dflt;
        }
        try {
            int v = Integer.parseInt(values.get(key).strip());
            if (v < min || v > max) {
                throw bad(key, "must be between " + min + " and " + max + ", got " + v);
            }
            return v;
        } catch (NumberFormatException e) {
            throw bad(key, "must be a whole number, got '" + values.get(key) + "'");
        }
    }

    public boolean bool(String key, boolean dflt) {
        if (!has(key)) {
            return dflt;
        }
        return switch (values.get(key).strip().toLowerCase(Locale.ROOT)) {
            case "true", "yes", "on", "1" -> true;
            case "false", "no", "off", "0" -> false;
            default -> throw bad(key, "must be true or false, got '" + values.get(key) + "'");
        };
    }

    /** {@code 72h}, {@code 3d}, {@code 90m}, {@code 0}, … as the retention options take them. */
    public Duration retentionDuration(String key, Duration dflt) {
        if (!has(key)) {
            return dflt;
        }
        try {
            return RetentionPolicy.parseDuration(values.get(key));
        } catch (IllegalArgumentException e) {
            throw bad(key, e.getMessage());
        }
    }

    public Path absolutePath(String key) {
        if (!has(key)) {
            return null;
        }
        Path p = Path.of(values.get(key).strip());
        if (!p.isAbsolute()) {
            throw bad(
                    key,
                    "must be an absolute path (the agent's working directory is not the caller's), got '" + p + "'");
        }
        return p.normalize();
    }

    public IllegalArgumentException error(String key, String problem) {
        return bad(key, problem);
    }
}
