package dev.lifeboat.controller.dashboard;

import dev.lifeboat.controller.api.Tokens;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Dashboard log-ins: a token typed into the login form becomes a random session id in an HttpOnly cookie, so the
 * token itself never sits in the browser. Each session carries its own CSRF token, which every state-changing call made
 * with the cookie must echo in {@code X-CSRF-Token}. Sessions live in memory: a controller restart logs everyone out.
 */
public final class Sessions {
    public static final String COOKIE = "lifeboat_session";
    public static final String CSRF_HEADER = "X-CSRF-Token";
    public static final Duration LIFETIME = Duration.ofHours(12);

    public record Session(String id, Tokens.Caller caller, String csrf, Instant expires) {}

    private static final SecureRandom RANDOM = new SecureRandom();
    private final Map<String, Session> byId = new ConcurrentHashMap<>();
    private final Clock clock;

    public Sessions() {
        this(Clock.systemUTC());
    }

    Sessions(Clock clock) {
        this.clock = clock;
    }

    public Session open(Tokens.Caller caller) {
        Instant now = clock.instant();
        byId.values().removeIf(s -> s.expires().isBefore(now));
        Session s = new Session(randomId(), caller, randomId(), now.plus(LIFETIME));
        byId.put(s.id(), s);
        return s;
    }

    public Optional<Session> find(String id) {
        if (id == null || id.isBlank()) {
            return Optional.empty();
        }
        Session s = byId.get(id);
        if (s != null && s.expires().isBefore(clock.instant())) {
            byId.remove(id);
            return Optional.empty();
        }
        return Optional.ofNullable(s);
    }

    public void close(String id) {
        if (id != null) {
            byId.remove(id);
        }
    }

    /** Constant-time comparison, so the CSRF token cannot be guessed byte by byte from response times. */
    public static boolean csrfMatches(Session s, String presented) {
        return presented != null
                && MessageDigest.isEqual(
                        s.csrf().getBytes(StandardCharsets.UTF_8), presented.getBytes(StandardCharsets.UTF_8));
    }

    private static String randomId() {
        byte[] b = new byte[32];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }
}
