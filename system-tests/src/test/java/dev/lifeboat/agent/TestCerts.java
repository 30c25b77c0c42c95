package dev.lifeboat.agent;

import dev.lifeboat.security.Pki;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Certificates for agent tests, issued by the real PKI code (names starting with "agent" or "db" get the agent role).
 * */
final class TestCerts {
    record Ca(Path dir, Path certFile) {}

    record Leaf(Path cert, Path key) {}

    private TestCerts() {}

    static Ca ca(Path dir, String cn) {
        Pki.initCa(dir, cn, Duration.ofDays(2));
        return new Ca(dir, dir.resolve("ca.crt"));
    }

    static Leaf leaf(Path dir, Ca ca, String cn) {
        Pki.Role role = cn.startsWith("agent") || cn.startsWith("db") ? Pki.Role.AGENT : Pki.Role.CLIENT;
        Pki.issue(ca.dir(), role, cn, List.of("localhost"), List.of("127.0.0.1"), Duration.ofDays(1), dir);
        return new Leaf(dir.resolve(cn + ".crt"), dir.resolve(cn + ".key"));
    }
}
