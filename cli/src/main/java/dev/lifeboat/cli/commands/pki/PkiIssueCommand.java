package dev.lifeboat.cli.commands.pki;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.security.IssuedCertificate;
import dev.lifeboat.security.Pki;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "issue",
        description = "Issue a certificate for NAME (its CN; the role goes into the OU) signed by the CA in "
                + "CA_DIR, written as OUT/NAME.crt and OUT/NAME.key (mode 0600), with OUT/ca.crt beside them. "
                + "Names default to "
                + "localhost and 127.0.0.1; give a server's real host names and addresses with --dns and --ip.")
public final class PkiIssueCommand implements Callable<Integer> {
    @Mixin
    OutputOptions output;

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

    @Override
    public Integer call() {
        if (dir == null) {
            throw new IllegalArgumentException(
                    "pki issue needs --dir CA_DIR, the CA's directory (create one with 'lifeboat pki init --dir "
                            + "DIR')");
        }
        IssuedCertificate c = Pki.issue(dir, role, name, dns, ip, PkiCommand.validity(days), out == null ? dir : out);
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
        if (output.json()) {
            output.printJson(o);
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
