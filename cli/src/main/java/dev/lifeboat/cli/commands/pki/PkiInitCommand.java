package dev.lifeboat.cli.commands.pki;

import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.security.Pki;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "init",
        description = "Create a CA in DIR: ca.crt (copy it to every controller, agent and client) and "
                + "ca.key (mode 0600; keep it offline: whoever has it can issue certificates). Never "
                + "replaces an existing CA.")
public final class PkiInitCommand implements Callable<Integer> {
    @Mixin
    OutputOptions output;

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

    @Override
    public Integer call() {
        if (dir == null) {
            throw new IllegalArgumentException("pki init needs --dir DIR, the directory for the new CA");
        }
        Pki.initCa(dir, cn, PkiCommand.validity(days));
        X509Certificate ca = Pki.caCertificate(dir);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("subject", ca.getSubjectX500Principal().getName());
        out.put("certificate", dir.resolve(Pki.CA_CERT).toAbsolutePath().toString());
        out.put("privateKey", dir.resolve(Pki.CA_KEY).toAbsolutePath().toString());
        out.put("notAfter", ca.getNotAfter().toInstant().toString());
        out.put("sha256Fingerprint", Pki.fingerprint(ca));
        if (output.json()) {
            output.printJson(out);
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
