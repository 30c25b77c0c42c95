package dev.lifeboat.controller.api;

import dev.lifeboat.controller.ControllerConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** Bearer tokens, kept as SHA-256 digests so neither memory dumps of the map nor the config hold usable tokens. */
public final class Tokens {
    public record Caller(String name, Role role) {}

    private final Map<String, Caller> byDigest = new ConcurrentHashMap<>();

    public Tokens(List<ControllerConfig.Token> tokens) throws IOException {
        for (ControllerConfig.Token t : tokens) {
            String digest;
            if (t.sha256 != null) {
                digest = t.sha256.trim().toLowerCase(Locale.ROOT);
            } else if (t.tokenFile != null) {
                digest = sha256(Files.readString(Path.of(t.tokenFile)).trim());
            } else {
                String v = System.getenv(t.tokenEnv);
                if (v == null || v.isBlank()) {
                    throw new IOException("token " + t.name + ": environment variable " + t.tokenEnv + " is not set");
                }
                digest = sha256(v.trim());
            }
            byDigest.put(digest, new Caller(t.name, Role.parse(t.role)));
        }
    }

    public Optional<Caller> authenticate(String bearer) {
        return bearer == null || bearer.isBlank()
                ? Optional.empty()
                : Optional.ofNullable(byDigest.get(sha256(bearer.trim())));
    }

    public static String sha256(String token) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
