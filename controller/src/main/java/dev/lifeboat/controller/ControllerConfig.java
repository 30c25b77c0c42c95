package dev.lifeboat.controller;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.lifeboat.common.Durations;
import dev.lifeboat.common.HostPort;
import dev.lifeboat.controller.api.Role;
import dev.lifeboat.controller.policy.Tier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The controller's configuration file (YAML). Every key is documented in docs/controller.md; unknown keys are
 * refused so a typo does not silently fall back to a default.
 */
public final class ControllerConfig {
    /** gRPC endpoint the agents dial (mutual TLS). */
    public String grpcListen = "127.0.0.1:7443";
    /** REST API, server-sent events and /metrics (TLS, bearer tokens). */
    public String httpListen = "127.0.0.1:7480";

    public String stateDir;
    public Tls tls;
    /** Plaintext gRPC and HTTP; only allowed when every listen address is loopback (quickstart, tests). */
    public boolean insecureDev;

    public Db database = new Db();
    /** The audit chain's HMAC key and its head anchor; default under state-dir. Keep them where the database's writers
     * cannot reach. */
    public String auditKeyFile;

    public String auditHeadFile;
    public String heartbeatInterval = "5s";
    /** How often RPO/RTO and alert conditions are evaluated. */
    public String evaluateInterval = "5s";
    /** One point of the dashboard's RPO and lag charts per this step (720 kept: 12 hours at the default). */
    public String historyStep = "1m";

    public List<Token> tokens = new ArrayList<>();
    public List<Webhook> webhooks = new ArrayList<>();
    /** Named policies; a database names one (or a tier preset directly). */
    public Map<String, PolicySpec> policies = new LinkedHashMap<>();

    public List<DatabaseSpec> databases = new ArrayList<>();
    public AlertThresholds alerts = new AlertThresholds();

    public static final class Tls {
        public String ca;
        public String cert;
        public String key;
    }

    public static final class Db {
        /** Default: an H2 file under state-dir. Production: jdbc:postgresql://… */
        public String url;

        public String user;
        public String password;
        public String passwordEnv;
    }

    public static final class Token {
        public String name;
        /** viewer, operator or admin. */
        public String role;
        /** SHA-256 (hex) of the token, so the file holds no usable secret; or token-file / token-env. */
        public String sha256;

        public String tokenFile;
        public String tokenEnv;
    }

    public static final class Webhook {
        public String name;
        public String url;
        /** generic, pagerduty or slack. */
        public String format = "generic";

        public String routingKey;
        public String routingKeyEnv;
        public Map<String, String> headers = new LinkedHashMap<>();
        /** Empty: every severity. */
        public List<String> severities = new ArrayList<>();
    }

    /** A tier preset with optional overrides (cron expressions in Quartz syntax, with seconds). */
    public static final class PolicySpec {
        public String tier = Tier.STANDARD.name();
        public String rto;
        public String rpo;
        public String fullSchedule;
        public String incrementalSchedule;
        public String drillSchedule;
        /** The replication region whose copy scheduled drills restore from (the DR region); null: the primary. */
        public String drillSourceRegion;

        public String expireSchedule;
        public String walMode;
        public String replicationMode;
        public Integer keepFull;
        public String pitrWindow;
    }

    public static final class DatabaseSpec {
        public String name;
        /** The agent (certificate common name) that runs this database's jobs. */
        public String agent;
        /** A policy name from `policies`, or a tier name (CRITICAL, HIGH, STANDARD, LOWER). */
        public String policy = Tier.STANDARD.name();
        /** Regions whose copies count for RPO (the primary region is the agent's). Empty: every region reported. */
        public List<String> regions = new ArrayList<>();
    }

    public static final class AlertThresholds {
        /** Warn when the RTO estimate exceeds this share of the target. */
        public double rtoWarningRatio = 0.8;
        /** Warn when more than this share of the backups in the window failed. */
        public double backupFailureRate = 0.25;

        public String backupFailureWindow = "24h";
        /** Warn when a repository's store has less than this share free (agents report it). */
        public double storageFreeRatio = 0.1;
    }

    public static ControllerConfig load(Path file) throws IOException {
        if (!Files.isReadable(file)) {
            throw new IOException("controller config not readable: " + file);
        }
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory())
                .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        ControllerConfig c;
        try {
            c = yaml.readValue(file.toFile(), ControllerConfig.class);
        } catch (JsonMappingException e) {
            throw new IOException(
                    "bad controller config " + file + ": " + e.getOriginalMessage() + " at " + path(e), e);
        }
        if (c == null) {
            throw new IOException("controller config is empty: " + file);
        }
        c.validate(file.getParent() == null ? Path.of(".") : file.getParent());
        return c;
    }

    private static String path(JsonMappingException e) {
        StringBuilder b = new StringBuilder();
        for (JsonMappingException.Reference r : e.getPath()) {
            b.append(r.getFieldName() != null ? "/" + r.getFieldName() : "[" + r.getIndex() + "]");
        }
        return b.isEmpty() ? "top level" : b.toString();
    }

    /** Resolves relative paths against the config file's directory and checks what can be checked without I/O. */
    public void validate(Path baseDir) {
        if (stateDir == null) {
            throw new IllegalArgumentException("state-dir is required (where the embedded database and keys live)");
        }
        stateDir = baseDir.resolve(stateDir).toString();
        if (tls == null && !insecureDev) {
            throw new IllegalArgumentException(
                    "tls (ca, cert, key) is required; issue them with `lifeboat pki init` and `lifeboat pki issue "
                            + "--role controller`");
        }
        if (tls != null) {
            if (tls.ca == null || tls.cert == null || tls.key == null) {
                throw new IllegalArgumentException("tls needs ca, cert and key");
            }
            tls.ca = baseDir.resolve(tls.ca).toString();
            tls.cert = baseDir.resolve(tls.cert).toString();
            tls.key = baseDir.resolve(tls.key).toString();
        }
        if (insecureDev) {
            for (String a : List.of(grpcListen, httpListen)) {
                if (!HostPort.parse(a, "listen").isLoopback()) {
                    throw new IllegalArgumentException("insecure-dev is allowed on loopback only, not " + a);
                }
            }
        }
        HostPort.parse(grpcListen, "grpc-listen");
        HostPort.parse(httpListen, "http-listen");
        if (durationOf("heartbeat-interval", heartbeatInterval).toMillis() < 1000) {
            throw new IllegalArgumentException("heartbeat-interval must be at least 1s");
        }
        if (durationOf("evaluate-interval", evaluateInterval).toMillis() < 100) {
            throw new IllegalArgumentException("evaluate-interval must be at least 100ms");
        }
        if (durationOf("history-step", historyStep).toMillis() < 1000) {
            throw new IllegalArgumentException("history-step must be at least 1s");
        }
        if (auditKeyFile != null) {
            auditKeyFile = baseDir.resolve(auditKeyFile).toString();
        }
        if (auditHeadFile != null) {
            auditHeadFile = baseDir.resolve(auditHeadFile).toString();
        }
        for (Webhook w : webhooks) {
            if (w.name == null || w.url == null) {
                throw new IllegalArgumentException("every webhook needs a name and a url");
            }
        }
        for (Token t : tokens) {
            if (t.name == null || t.role == null) {
                throw new IllegalArgumentException("every token needs a name and a role");
            }
            Role.parse(t.role);
            int sources = (t.sha256 != null ? 1 : 0) + (t.tokenFile != null ? 1 : 0) + (t.tokenEnv != null ? 1 : 0);
            if (sources != 1) {
                throw new IllegalArgumentException(
                        "token " + t.name + " needs exactly one of sha256, token-file, token-env");
            }
            if (t.tokenFile != null) {
                t.tokenFile = baseDir.resolve(t.tokenFile).toString();
            }
            if (t.sha256 != null && !t.sha256.trim().matches("[0-9a-fA-F]{64}")) {
                throw new IllegalArgumentException(
                        "token " + t.name + ": sha256 must be 64 hex digits (e.g. from `printf %s TOKEN | sha256sum`)");
            }
        }
        for (Map.Entry<String, PolicySpec> p : policies.entrySet()) {
            Tier.parse(p.getValue().tier);
        }
        for (DatabaseSpec d : databases) {
            if (d.name == null || d.agent == null) {
                throw new IllegalArgumentException("every database needs a name and an agent");
            }
            if (!policies.containsKey(d.policy)) {
                try {
                    Tier.parse(d.policy);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("database " + d.name + ": policy " + d.policy
                            + " is neither a policy in `policies` nor a tier (CRITICAL, HIGH, STANDARD, LOWER)");
                }
            }
        }
    }

    public static Duration durationOf(String key, String text) {
        try {
            return Durations.parse(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(key + ": " + e.getMessage());
        }
    }
}
