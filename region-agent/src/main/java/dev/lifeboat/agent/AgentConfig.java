package dev.lifeboat.agent;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.lifeboat.common.Durations;
import dev.lifeboat.common.HostPort;
import dev.lifeboat.repository.compress.Compression;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * A region agent's settings, read from YAML ({@code lifeboat agent --config FILE}; see docs/agent.md). Relative paths
 * are taken relative to the config file's directory. Every error names the key that is wrong.
 *
 * @param controller      the controller to dial out to; null runs the agent standalone (Jobs API only)
 * @param listen          where the Jobs API listens
 * @param metricsListen   where Prometheus {@code /metrics} is served
 * @param insecureDev     plaintext gRPC for development, refused unless every address is loopback
 */
public record AgentConfig(
        Path source,
        String id,
        String region,
        HostPort controller,
        HostPort listen,
        HostPort metricsListen,
        Path stateDir,
        int maxConcurrentJobs,
        Tls tls,
        boolean insecureDev,
        Duration rpoProbeInterval,
        List<Database> databases) {

    public static final String DEFAULT_LISTEN = "127.0.0.1:7444";
    public static final String DEFAULT_METRICS_LISTEN = "127.0.0.1:9187";
    public static final Path DEFAULT_STATE_DIR = Path.of("/var/lib/lifeboat/agent");

    /** PEM files: the CA that signed controller and client certificates, this agent's certificate and its key. */
    public record Tls(Path ca, Path cert, Path key) {}

    /**
     * One PostgreSQL cluster the agent acts on and its repository.
     *
     * @param pgdata      data directory (socket and port from its postmaster.pid); null on a restore-only host
     * @param keyFile     key file that unlocks the repository; null reads LIFEBOAT_PASSPHRASE from the environment
     * @param replication replication config (JSON) of the repository, or null
     * @param walStream   keep a WAL_STREAM job running for this database
     * @param walPushSpool spool directory of a WAL pusher the agent keeps running, which answers
     *                     {@code lifeboat wal-push --spool-dir DIR %p} without a JVM per segment; null: none
     */
    public record Database(
            String name,
            Path pgdata,
            String pghost,
            Integer pgport,
            String pguser,
            String repo,
            Path keyFile,
            Path replication,
            boolean walStream,
            String compression,
            int parallel,
            Path walPushSpool) {
        public Compression parsedCompression() {
            return Compression.parse(compression);
        }
    }

    /** An agent config that cannot be used; the message names the file and the key. */
    public static final class ConfigException extends IllegalArgumentException {
        public ConfigException(String message) {
            super(message);
        }
    }

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    private static final Set<String> TOP_KEYS = Set.of(
            "id",
            "region",
            "controller",
            "listen",
            "metrics-listen",
            "state-dir",
            "max-concurrent-jobs",
            "tls",
            "insecure-dev",
            "rpo-probe-interval",
            "databases");
    private static final Set<String> TLS_KEYS = Set.of("ca", "cert", "key");
    private static final Set<String> DB_KEYS = Set.of(
            "name",
            "pgdata",
            "wal-push-spool",
            "pghost",
            "pgport",
            "pguser",
            "repo",
            "key-file",
            "replication",
            "wal-stream",
            "compression",
            "parallel");

    public AgentConfig {
        databases = List.copyOf(databases);
    }

    /** The database called {@code name}, or an error listing the ones this agent knows. */
    public Database database(String name) {
        for (Database d : databases) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        throw new IllegalArgumentException("this agent (" + id + ") has no database '" + name + "'; it knows "
                + (databases.isEmpty()
                        ? "none"
                        : String.join(
                                ", ", databases.stream().map(Database::name).toList())));
    }

    public List<String> databaseNames() {
        return databases.stream().map(Database::name).toList();
    }

    public Path jobsDir() {
        return stateDir.resolve("jobs");
    }

    public static AgentConfig load(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new ConfigException("agent config " + file + " does not exist");
        }
        return parse(text, file.toAbsolutePath().normalize());
    }

    /** Parses YAML; relative paths resolve against {@code source}'s directory. */
    public static AgentConfig parse(String yaml, Path source) {
        Reader r = new Reader(source);
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(yaml);
        } catch (JacksonException e) {
            throw r.error(
                    null,
                    "is not valid YAML: " + e.getOriginalMessage()
                            + (e.getLocation() == null
                                    ? ""
                                    : " (line " + e.getLocation().getLineNr() + ")"));
        }
        if (root == null || !root.isObject()) {
            throw r.error(null, "must be a YAML mapping of settings (id, region, listen, tls, databases, ...)");
        }
        r.unknownKeys(root, TOP_KEYS, "");
        String id = r.requiredName(root, "id");
        String region = r.requiredName(root, "region");
        HostPort controller = r.address(root, "controller", null);
        HostPort listen = r.address(root, "listen", DEFAULT_LISTEN);
        HostPort metrics = r.address(root, "metrics-listen", DEFAULT_METRICS_LISTEN);
        Path stateDir = r.path(root, "state-dir", "state-dir");
        if (stateDir == null) {
            stateDir = DEFAULT_STATE_DIR;
        }
        int maxJobs = r.integer(root, "max-concurrent-jobs", "max-concurrent-jobs", 2, 1, 1000);
        boolean insecure = r.bool(root, "insecure-dev", "insecure-dev", false);
        Duration probe = r.duration(root, "rpo-probe-interval", "rpo-probe-interval", Duration.ofSeconds(10));
        if (probe.isZero() || probe.isNegative()) {
            throw r.error("rpo-probe-interval", "must be longer than 0");
        }

        Tls tls = null;
        JsonNode t = root.get("tls");
        if (t != null && !t.isNull()) {
            if (!t.isObject()) {
                throw r.error("tls", "must be a mapping with ca, cert and key (PEM files)");
            }
            r.unknownKeys(t, TLS_KEYS, "tls.");
            tls = new Tls(
                    r.requiredFile(t, "ca", "tls.ca"),
                    r.requiredFile(t, "cert", "tls.cert"),
                    r.requiredFile(t, "key", "tls.key"));
        }
        if (insecure) {
            if (tls != null) {
                throw r.error("insecure-dev", "is true but tls is set too: remove one (insecure-dev turns TLS off)");
            }
            if (!listen.isLoopback()) {
                throw r.error(
                        "listen",
                        listen + " is not a loopback address; insecure-dev (no TLS) is allowed on loopback only");
            }
            if (controller != null && !controller.isLoopback()) {
                throw r.error(
                        "controller",
                        controller + " is not a loopback address; insecure-dev (no TLS) is allowed on loopback only");
            }
        } else {
            if (tls == null) {
                throw r.error(
                        "tls",
                        "is required: give tls: {ca: CA.pem, cert: AGENT.pem, key: AGENT.key} "
                                + "(lifeboat pki issue --role agent " + id
                                + "), or insecure-dev: true on loopback for development");
            }
            String cn = commonName(tls.cert(), r);
            if (!id.equals(cn)) {
                throw r.error(
                        "id",
                        "'" + id + "' must equal the common name of the agent certificate " + tls.cert() + " ('" + cn
                                + "'): an agent's identity is its certificate");
            }
        }

        List<Database> dbs = new ArrayList<>();
        JsonNode list = root.get("databases");
        if (list != null && !list.isNull()) {
            if (!list.isArray()) {
                throw r.error("databases", "must be a list of databases (- name: main, pgdata: ..., repo: ...)");
            }
            Set<String> names = new HashSet<>();
            for (int i = 0; i < list.size(); i++) {
                JsonNode d = list.get(i);
                String at = "databases[" + i + "]";
                if (!d.isObject()) {
                    throw r.error(at, "must be a mapping (name, pgdata, repo, ...)");
                }
                r.unknownKeys(d, DB_KEYS, at + ".");
                String name = r.requiredName(d, "name", at + ".name");
                if (!names.add(name)) {
                    throw r.error(at + ".name", "'" + name + "' is used by another database of this agent");
                }
                at = "databases[" + name + "]";
                String repo = r.text(d, "repo", at + ".repo");
                if (repo == null) {
                    throw r.error(
                            at + ".repo", "is required: the repository URI (file:///..., s3://bucket/prefix, ...)");
                }
                Integer pgport = d.has("pgport") && !d.get("pgport").isNull()
                        ? r.integer(d, "pgport", at + ".pgport", 5432, 1, 65535)
                        : null;
                String compression = r.text(d, "compression", at + ".compression");
                compression = compression == null ? "low" : compression;
                try {
                    Compression.parse(compression);
                } catch (IllegalArgumentException e) {
                    throw r.error(at + ".compression", e.getMessage());
                }
                Path replication = r.path(d, "replication", at + ".replication");
                if (replication != null && !Files.isRegularFile(replication)) {
                    throw r.error(at + ".replication", "file " + replication + " does not exist");
                }
                Path keyFile = r.path(d, "key-file", at + ".key-file");
                if (keyFile != null && !Files.isRegularFile(keyFile)) {
                    throw r.error(at + ".key-file", "file " + keyFile + " does not exist");
                }
                boolean walStream = r.bool(d, "wal-stream", at + ".wal-stream", false);
                Path pgdata = r.path(d, "pgdata", at + ".pgdata");
                if (walStream && pgdata == null && r.text(d, "pghost", at + ".pghost") == null) {
                    throw r.error(
                            at + ".wal-stream", "needs pgdata (or pghost/pgport) to know which server to stream from");
                }
                Path walPushSpool = r.path(d, "wal-push-spool", at + ".wal-push-spool");
                if (walPushSpool != null && pgdata == null) {
                    throw r.error(at + ".wal-push-spool", "needs pgdata: the pusher archives pgdata/pg_wal");
                }
                dbs.add(new Database(
                        name,
                        pgdata,
                        r.text(d, "pghost", at + ".pghost"),
                        pgport,
                        r.text(d, "pguser", at + ".pguser"),
                        repo,
                        keyFile,
                        replication,
                        walStream,
                        compression,
                        r.integer(d, "parallel", at + ".parallel", 2, 1, 256),
                        walPushSpool));
            }
        }
        return new AgentConfig(
                source, id, region, controller, listen, metrics, stateDir, maxJobs, tls, insecure, probe, dbs);
    }

    /** The certificate's subject common name. */
    static String commonName(Path cert, Reader r) {
        try (InputStream in = Files.newInputStream(cert)) {
            X509Certificate x =
                    (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
            for (Rdn rdn : new LdapName(x.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return rdn.getValue().toString();
                }
            }
            throw r.error("tls.cert", cert + " has no common name (CN) in its subject");
        } catch (IOException | CertificateException | InvalidNameException e) {
            throw r.error("tls.cert", cert + " is not a readable PEM certificate: " + e.getMessage());
        }
    }

    /** Reads typed values out of the YAML tree, with errors that name the file and the key. */
    private static final class Reader {
        private final Path source;

        Reader(Path source) {
            this.source = source;
        }

        ConfigException error(String key, String problem) {
            return new ConfigException("agent config " + (source == null ? "" : source + ": ")
                    + (key == null ? "" : key + ": ") + problem);
        }

        void unknownKeys(JsonNode node, Set<String> known, String prefix) {
            for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!known.contains(k)) {
                    throw error(
                            prefix + k,
                            "is not a setting; known: "
                                    + String.join(", ", known.stream().sorted().toList()));
                }
            }
        }

        String text(JsonNode node, String field, String key) {
            JsonNode v = node.get(field);
            if (v == null || v.isNull()) {
                return null;
            }
            if (!v.isValueNode() || v.isBinary()) {
                throw error(key, "must be a single value, not a list or mapping");
            }
            String s = v.asText().strip();
            return s.isEmpty() ? null : s;
        }

        String requiredName(JsonNode node, String field) {
            return requiredName(node, field, field);
        }

        String requiredName(JsonNode node, String field, String key) {
            String s = text(node, field, key);
            if (s == null) {
                throw error(key, "is required");
            }
            if (!NAME.matcher(s).matches()) {
                throw error(
                        key,
                        "'" + s
                                + "' may only hold letters, digits, '.', '_' and '-' (and start with a letter or "
                                + "digit)");
            }
            return s;
        }

        HostPort address(JsonNode node, String field, String dflt) {
            String s = text(node, field, field);
            if (s == null) {
                return dflt == null ? null : HostPort.parse(dflt, field);
            }
            try {
                return HostPort.parse(s, field);
            } catch (IllegalArgumentException e) {
                throw error(null, e.getMessage());
            }
        }

        Path path(JsonNode node, String field, String key) {
            String s = text(node, field, key);
            if (s == null) {
                return null;
            }
            Path p = Path.of(s);
            if (!p.isAbsolute() && source != null && source.getParent() != null) {
                p = source.getParent().resolve(p);
            }
            return p.normalize();
        }

        Path requiredFile(JsonNode node, String field, String key) {
            Path p = path(node, field, key);
            if (p == null) {
                throw error(key, "is required");
            }
            if (!Files.isRegularFile(p)) {
                throw error(key, "file " + p + " does not exist");
            }
            if (!Files.isReadable(p)) {
                throw error(key, "file " + p + " is not readable by this user");
            }
            return p;
        }

        int integer(JsonNode node, String field, String key, int dflt, int min, int max) {
            String s = text(node, field, key);
            if (s == null) {
                return dflt;
            }
            int v;
            try {
                v = Integer.parseInt(s);
            } catch (NumberFormatException e) {
                throw error(key, "must be a whole number, got '" + s + "'");
            }
            if (v < min || v > max) {
                throw error(key, "must be between " + min + " and " + max + ", got " + v);
            }
            return v;
        }

        boolean bool(JsonNode node, String field, String key, boolean dflt) {
            String s = text(node, field, key);
            if (s == null) {
                return dflt;
            }
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "true", "yes", "on" -> true;
                case "false", "no", "off" -> false;
                default -> throw error(key, "must be true or false, got '" + s + "'");
            };
        }

        Duration duration(JsonNode node, String field, String key, Duration dflt) {
            String s = text(node, field, key);
            if (s == null) {
                return dflt;
            }
            try {
                return Durations.parse(s);
            } catch (IllegalArgumentException e) {
                throw error(key, e.getMessage());
            }
        }
    }
}
