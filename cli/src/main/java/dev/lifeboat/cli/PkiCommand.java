package dev.lifeboat.cli;

import dev.lifeboat.security.IssuedCertificate;
import dev.lifeboat.security.Pki;
import dev.lifeboat.util.Json;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code lifeboat pki init|issue}: the CA and the certificates controller, agents and clients use for mutual TLS. */
@Command(
        name = "pki",
        description = "Certificates for mutual TLS between the controller, agents and clients: "
                + "'init' creates a CA, 'issue' signs a certificate for one controller, agent or client.",
        subcommands = {PkiCommand.Init.class, PkiCommand.Issue.class})
final class PkiCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(
            name = "init",
            description = "Create a CA in DIR: ca.crt (copy it to every controller, agent and client) and "
                    + "ca.key (mode 0600; keep it offline: whoever has it can issue certificates). Never "
                    + "replaces an existing CA.")
    static final class Init implements Callable<Integer> {
        @Option(
                names = "--dir",
                paramLabel = "DIR",
                description = "Directory for ca.crt and ca.key (created 0700 if missing).")
        Path dir;

        @Option(
                names = "--cn",
                paramLabel = "NAME",
                defaultValue = "Lifeboat CA",
                description = "The CA's common name. Default: ${DEFAULT-VALUE}.")
        String cn;

        @Option(
                names = "--days",
                paramLabel = "N",
                defaultValue = "3650",
                description = "Validity in days. Default: ${DEFAULT-VALUE}.")
        int days;

        @Option(names = "--json", description = "Print the result as JSON.")
        boolean json;

        @Override
        public Integer call() {
            if (dir == null) {
                throw new IllegalArgumentException("pki init needs --dir DIR, the directory for the new CA");
            }
            Pki.initCa(dir, cn, validity(days));
            X509Certificate ca = Pki.caCertificate(dir);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("subject", ca.getSubjectX500Principal().getName());
            out.put("certificate", dir.resolve(Pki.CA_CERT).toAbsolutePath().toString());
            out.put("privateKey", dir.resolve(Pki.CA_KEY).toAbsolutePath().toString());
            out.put("notAfter", ca.getNotAfter().toInstant().toString());
            out.put("sha256Fingerprint", Pki.fingerprint(ca));
            if (json) {
                System.out.println(Json.pretty(out));
                return 0;
            }
            System.out.println("created CA \"" + cn + "\" in " + dir.toAbsolutePath());
            System.out.println(
                    "  certificate  " + out.get("certificate") + "  (copy to every controller, agent and client)");
            System.out.println("  private key  " + out.get("privateKey")
                    + "  (mode 0600; keep it offline: whoever has it can issue certificates)");
            System.out.println("  valid until  " + out.get("notAfter"));
            System.out.println("  SHA-256      " + out.get("sha256Fingerprint"));
            System.out.println("next: lifeboat pki issue --dir " + dir + " --role controller|agent|client NAME");
            return 0;
        }
    }

    @Command(
            name = "issue",
            description = "Issue a certificate for NAME (its CN; the role goes into the OU) signed by the CA in "
                    + "CA_DIR, written as OUT/NAME.crt and OUT/NAME.key (mode 0600), with OUT/ca.crt beside them. "
                    + "Names default to "
                    + "localhost and 127.0.0.1; give a server's real host names and addresses with --dns and --ip.")
    static final class Issue implements Callable<Integer> {
        @Parameters(
                index = "0",
                paramLabel = "NAME",
                description = "The controller's, agent's or client's name, e.g. agent-eu-west-1.")
        String name;

        @Option(names = "--dir", paramLabel = "CA_DIR", description = "The CA's directory (from 'pki init').")
        Path dir;

        @Option(
                names = "--role",
                paramLabel = "ROLE",
                required = true,
                description = "controller, agent (both serve and dial) or client (dials only: CLI, pipeline steps).")
        Pki.Role role;

        @Option(
                names = "--dns",
                paramLabel = "HOST",
                split = ",",
                description = "A DNS name the peer is reached at (repeatable).")
        List<String> dns = new ArrayList<>();

        @Option(
                names = "--ip",
                paramLabel = "ADDRESS",
                split = ",",
                description = "An IP address the peer is reached at (repeatable).")
        List<String> ip = new ArrayList<>();

        @Option(
                names = "--days",
                paramLabel = "N",
                defaultValue = "825",
                description = "Validity in days (at most the CA's). Default: ${DEFAULT-VALUE}.")
        int days;

        @Option(names = "--out", paramLabel = "DIR", description = "Where to write the files. Default: CA_DIR.")
        Path out;

        @Option(names = "--json", description = "Print the result as JSON.")
        boolean json;

        @Override
        public Integer call() {
            if (dir == null) {
                throw new IllegalArgumentException(
                        "pki issue needs --dir CA_DIR, the CA's directory (create one with 'lifeboat pki init --dir "
                                + "DIR')");
            }
            IssuedCertificate c = Pki.issue(dir, role, name, dns, ip, validity(days), out == null ? dir : out);
            List<String> names = new ArrayList<>();
            c.dnsNames().forEach(d -> names.add("DNS:" + d));
            c.ipAddresses().forEach(a -> names.add("IP:" + a));
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("name", c.commonName());
            o.put("role", c.role().ou());
            o.put("certificate", c.cert().toAbsolutePath().toString());
            o.put("privateKey", c.key().toAbsolutePath().toString());
            o.put("caCertificate", c.caCert().toAbsolutePath().toString());
            o.put("subjectAltNames", names);
            o.put("serial", c.serial().toString(16));
            o.put("notBefore", c.notBefore().toString());
            o.put("notAfter", c.notAfter().toString());
            o.put("sha256Fingerprint", c.fingerprint());
            if (json) {
                System.out.println(Json.pretty(o));
                return 0;
            }
            System.out.println("issued " + c.role().ou() + " certificate \"" + c.commonName() + "\"");
            System.out.println("  certificate  " + o.get("certificate"));
            System.out.println("  private key  " + o.get("privateKey") + "  (mode 0600)");
            System.out.println("  CA           " + o.get("caCertificate"));
            System.out.println("  names        " + String.join(", ", names));
            System.out.println("  valid until  " + c.notAfter());
            System.out.println("  serial       " + o.get("serial"));
            System.out.println("  SHA-256      " + c.fingerprint());
            return 0;
        }
    }

    private static Duration validity(int days) {
        if (days < 1) {
            throw new IllegalArgumentException("--days must be at least 1, was " + days);
        }
        return Duration.ofDays(days);
    }
}
