package dev.lifeboat.monitoring;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The Prometheus rules and the Grafana dashboard shipped in dist/src/monitoring, read as their tools read them. */
public final class MonitoringFiles {
    public static final Path DIR =
            Path.of("..", "dist", "src", "monitoring").toAbsolutePath().normalize();
    public static final Path RULES = DIR.resolve("prometheus/lifeboat-rules.yml");
    public static final Path RULES_TEST = DIR.resolve("prometheus/lifeboat-rules.test.yml");
    public static final Path DASHBOARD = DIR.resolve("grafana/lifeboat.json");

    /** Series names are lifeboat_*, jvm_* or process_*; label values such as job="lifeboat-agents" have a hyphen. */
    private static final Pattern SERIES = Pattern.compile("\\b((?:lifeboat|jvm|process)_[a-z0-9_]+)\\b");

    private MonitoringFiles() {}

    /** Every alerting rule's expression. */
    public static List<String> ruleExpressions() throws IOException {
        List<String> out = new ArrayList<>();
        for (JsonNode group :
                new ObjectMapper(new YAMLFactory()).readTree(RULES.toFile()).path("groups")) {
            for (JsonNode rule : group.path("rules")) {
                out.add(rule.path("expr").asText());
            }
        }
        return out;
    }

    /** Every panel query of the dashboard, with the dashboard's variables as Grafana substitutes "All". */
    public static List<String> dashboardExpressions() throws IOException {
        List<String> out = new ArrayList<>();
        for (JsonNode panel : new ObjectMapper().readTree(DASHBOARD.toFile()).path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                out.add(target.path("expr").asText().replace("$database", ".*"));
            }
        }
        return out;
    }

    /** The series names the expressions read. */
    public static Set<String> seriesNames(List<String> expressions) {
        Set<String> names = new TreeSet<>();
        for (String e : expressions) {
            Matcher m = SERIES.matcher(e);
            while (m.find()) {
                names.add(m.group(1));
            }
        }
        return names;
    }
}
