package dev.lifeboat.controller.audit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.common.Backoff;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The append-only, tamper-evident audit log: table {@code audit_log} (migration V2). Every entry carries an
 * HMAC-SHA-256 over its own fields and the previous entry's hash, so {@link #verify} finds the first entry that was
 * edited, removed, inserted or moved. The HMAC is keyed because a plain hash chain can simply be recomputed by whoever
 * edits the table; the key lives in the controller's key file ({@link #loadOrCreateKey}), never in the database.
 * <p>
 * Rows alone cannot reveal that the newest entries were cut off, so callers keep an anchor elsewhere: {@link #head()}
 * (or {@link #recordHeadIn} for a file kept current on every append), checked by {@link #verify(String)}.
 * <p>
 * Appends are serialised within this process by a lock and across controllers sharing a PostgreSQL database by a
 * transaction-scoped advisory lock; a unique violation on {@code seq} (two writers on another database, or a second
 * instance in this process) is retried, so the chain stays gap-free either way.
 */
public final class AuditLog {
    /** The {@code prev_hash} of the first entry. */
    public static final String GENESIS = "0".repeat(64);

    private static final int KEY_BYTES = 32;
    private static final int MIN_KEY_BYTES = 16;
    private static final int MAX_ACTOR = 256;
    private static final int MAX_ACTION = 128;
    private static final int MAX_TARGET = 1024;
    private static final int VERIFY_PAGE = 1000;
    private static final int MAX_LIST = 10_000;
    /** Appends that lose a race for the chain's head retry soon, many times: writers take turns in milliseconds. */
    private static final Backoff APPEND_CONFLICTS =
            Backoff.exponential(Duration.ofMillis(2), Duration.ofMillis(200)).withMaxAttempts(50);
    /** pg_advisory_xact_lock key shared by every controller on one database ("LBAUDIT\0"). */
    private static final long PG_LOCK_KEY = 0x4c42415544495400L;

    private static final byte[] DOMAIN = "lifeboat-audit-v1".getBytes(StandardCharsets.UTF_8);
    /** Unique violation, serialization failure, deadlock, H2 lock timeout and concurrent update: try again. */
    private static final Set<String> RETRY_STATES = Set.of("23505", "40001", "40P01", "HYT00", "90131");

    private static final String COLUMNS = "seq, at, actor, action, target, detail, prev_hash, hash";
    private static final HexFormat HEX = HexFormat.of();
    private static final Logger log = LoggerFactory.getLogger(AuditLog.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final DataSource ds;
    private final SecretKeySpec key;
    private final Clock clock;
    private final ReentrantLock appendLock = new ReentrantLock();
    private volatile Boolean postgres;
    private volatile Path anchorFile;
    private long anchoredSeq;
    private String anchoredHash;

    /** The outcome of {@link #verify}: {@code firstBadSeq} is -1 and {@code problem} null when {@code ok}. */
    public record VerifyResult(boolean ok, long entriesChecked, long firstBadSeq, String problem) {
        static VerifyResult good(long checked) {
            return new VerifyResult(true, checked, -1, null);
        }

        static VerifyResult bad(long checked, long seq, String problem) {
            return new VerifyResult(false, checked, seq, problem);
        }
    }

    public AuditLog(DataSource ds, byte[] chainKey) {
        this(ds, chainKey, Clock.systemUTC());
    }

    public AuditLog(DataSource ds, byte[] chainKey, Clock clock) {
        if (ds == null || chainKey == null || clock == null) {
            throw new IllegalArgumentException("data source, chain key and clock are required");
        }
        if (chainKey.length < MIN_KEY_BYTES) {
            throw new IllegalArgumentException(
                    "the audit chain key has " + chainKey.length + " bytes; it needs at least " + MIN_KEY_BYTES
                            + " (use AuditLog.loadOrCreateKey for a 32-byte key)");
        }
        this.ds = ds;
        this.key = new SecretKeySpec(chainKey.clone(), "HmacSHA256");
        this.clock = clock;
    }

    /**
     * After every append by this instance, writes the new head to {@code file} (atomically, by rename), as long as
     * the entry the file names is still in the log unchanged; otherwise it leaves the file alone and logs an error, so
     * the evidence of a cut or rewritten log survives a restart. Keep the file out of reach of whoever can write to the
     * database; pass its content to {@link #verify(String)}. An older anchor (another controller appended since) is
     * still valid: it only proves less.
     */
    public AuditLog recordHeadIn(Path file) {
        appendLock.lock();
        try {
            this.anchorFile = file;
            this.anchoredHash = null;
        } finally {
            appendLock.unlock();
        }
        return this;
    }

    /**
     * Appends an entry and returns it.
     *
     * @param detailJson JSON text (object, array or scalar) or null
     * @throws IllegalArgumentException for a missing actor/action, over-long fields or a detail that is not JSON
     * @throws AuditException when the database cannot take the entry
     */
    public AuditEntry append(String actor, String action, String target, String detailJson) {
        requireText("actor", actor, MAX_ACTOR, false);
        requireText("action", action, MAX_ACTION, false);
        requireText("target", target, MAX_TARGET, true);
        if (detailJson != null) {
            try {
                JSON.readTree(detailJson);
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException("audit detail is not valid JSON: " + e.getOriginalMessage());
            }
        }
        appendLock.lock();
        try {
            AuditEntry entry = insertWithRetry(actor, action, target, detailJson);
            writeAnchor(entry);
            return entry;
        } finally {
            appendLock.unlock();
        }
    }

    private AuditEntry insertWithRetry(String actor, String action, String target, String detail) {
        Backoff.Attempts tries = APPEND_CONFLICTS.start();
        while (true) {
            try (Connection c = ds.getConnection()) {
                boolean autoCommit = c.getAutoCommit();
                int isolation = c.getTransactionIsolation();
                c.setAutoCommit(false);
                // read committed: the head read after the advisory lock must see the entry its holder just committed
                c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
                try {
                    AuditEntry e = insertNext(c, actor, action, target, detail);
                    c.commit();
                    return e;
                } catch (SQLException | RuntimeException e) {
                    c.rollback();
                    throw e;
                } finally {
                    c.setTransactionIsolation(isolation);
                    c.setAutoCommit(autoCommit);
                }
            } catch (SQLException e) {
                if (!RETRY_STATES.contains(e.getSQLState()) || !pause(tries)) {
                    throw new AuditException(
                            "could not append to the audit log (" + action + " by " + actor + "): " + e.getMessage()
                                    + "; check the controller database",
                            e);
                }
            }
        }
    }

    private AuditEntry insertNext(Connection c, String actor, String action, String target, String detail)
            throws SQLException {
        if (isPostgres(c)) {
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
                ps.setLong(1, PG_LOCK_KEY);
                ps.execute();
            }
        }
        long prevSeq = 0;
        String prevHash = GENESIS;
        try (PreparedStatement ps = c.prepareStatement("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
                ResultSet rs = ps.executeQuery()) {
            if (rs.next()) {
                prevSeq = rs.getLong(1);
                prevHash = rs.getString(2);
            }
        }
        long seq = prevSeq + 1;
        // the database keeps microseconds: hash exactly what will be read back
        Instant at = clock.instant().truncatedTo(ChronoUnit.MICROS);
        String hash = hmac(seq, at, actor, action, target, detail, prevHash);
        try (PreparedStatement ps =
                c.prepareStatement("INSERT INTO audit_log (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            ps.setLong(1, seq);
            ps.setObject(2, OffsetDateTime.ofInstant(at, ZoneOffset.UTC));
            ps.setString(3, actor);
            ps.setString(4, action);
            ps.setString(5, target);
            ps.setString(6, detail);
            ps.setString(7, prevHash);
            ps.setString(8, hash);
            ps.executeUpdate();
        }
        return new AuditEntry(seq, at, actor, action, target, detail, prevHash, hash);
    }

    /** Entries with {@code seq > afterSeq}, oldest first, at most {@code limit} (1 … 10000). */
    public List<AuditEntry> list(long afterSeq, int limit) {
        if (limit < 1 || limit > MAX_LIST) {
            throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIST + ", was " + limit);
        }
        try (Connection c = ds.getConnection()) {
            return page(c, afterSeq, limit);
        } catch (SQLException e) {
            throw new AuditException("could not read the audit log: " + e.getMessage(), e);
        }
    }

    /** The newest entry with this action and target (e.g. the record of a drill report), if any. */
    public Optional<AuditEntry> latest(String action, String target) {
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS
                        + " FROM audit_log WHERE action = ? AND target = ? ORDER BY seq DESC LIMIT 1")) {
            ps.setString(1, action);
            ps.setString(2, target);
            return entries(ps).stream().findFirst();
        } catch (SQLException e) {
            throw new AuditException("could not read the audit log: " + e.getMessage(), e);
        }
    }

    private static List<AuditEntry> page(Connection c, long afterSeq, int limit) throws SQLException {
        try (PreparedStatement ps =
                c.prepareStatement("SELECT " + COLUMNS + " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?")) {
            ps.setLong(1, afterSeq);
            ps.setInt(2, limit);
            return entries(ps);
        }
    }

    private static List<AuditEntry> entries(PreparedStatement ps) throws SQLException {
        List<AuditEntry> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.add(new AuditEntry(
                        rs.getLong(1),
                        rs.getObject(2, OffsetDateTime.class).toInstant(),
                        rs.getString(3),
                        rs.getString(4),
                        rs.getString(5),
                        rs.getString(6),
                        rs.getString(7),
                        rs.getString(8)));
            }
        }
        return out;
    }

    /** {@code "<seq>:<hash>"} of the newest entry ({@code "0:" + GENESIS} while the log is empty). */
    public String head() {
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
                ResultSet rs = ps.executeQuery()) {
            return rs.next() ? rs.getLong(1) + ":" + rs.getString(2) : "0:" + GENESIS;
        } catch (SQLException e) {
            throw new AuditException("could not read the audit log: " + e.getMessage(), e);
        }
    }

    /** Checks the whole chain without an anchor: cannot notice that the newest entries were removed. */
    public VerifyResult verify() {
        return verify(null);
    }

    /**
     * Checks every entry, oldest first, a page at a time: sequence without gaps starting at 1, each {@code prev_hash}
     * equal to the previous entry's hash, each hash equal to the HMAC of the entry's fields. With {@code expectedHead}
     * (an earlier {@link #head()}), also that the entry it names is still there, unchanged.
     */
    public VerifyResult verify(String expectedHead) {
        long anchorSeq = -1;
        String anchorHash = null;
        if (expectedHead != null) {
            int colon = expectedHead.indexOf(':');
            try {
                anchorSeq = Long.parseLong(
                        expectedHead.substring(0, Math.max(colon, 0)).trim());
                anchorHash = expectedHead.substring(colon + 1).trim();
            } catch (NumberFormatException e) {
                anchorSeq = -1;
            }
            if (anchorSeq < 0 || anchorHash == null || anchorHash.length() != 64) {
                throw new IllegalArgumentException(
                        "not an audit head: '" + expectedHead + "' (expected <seq>:<64 hex digits>, as head() prints)");
            }
        }
        long expected = 1;
        String prevHash = GENESIS;
        long checked = 0;
        boolean anchorSeen = anchorSeq == 0;
        try (Connection c = ds.getConnection()) {
            while (true) {
                List<AuditEntry> page = page(c, expected - 1 == 0 ? Long.MIN_VALUE : expected - 1, VERIFY_PAGE);
                for (AuditEntry e : page) {
                    if (e.seq() != expected) {
                        return VerifyResult.bad(
                                checked,
                                e.seq(),
                                expected == 1
                                        ? "the log starts at entry " + e.seq()
                                                + " instead of 1: earlier entries were removed or a row was inserted"
                                                + tamperAdvice()
                                        : "entry " + expected + " is missing: the log jumps from " + (expected - 1)
                                                + " to " + e.seq() + tamperAdvice());
                    }
                    if (!prevHash.equals(e.prevHash())) {
                        return VerifyResult.bad(
                                checked,
                                e.seq(),
                                "entry " + e.seq() + " does not follow entry " + (e.seq() - 1)
                                        + " (its prev_hash differs from that entry's hash): entries were removed, "
                                        + "reordered or replaced"
                                        + tamperAdvice());
                    }
                    String want = hmac(e.seq(), e.at(), e.actor(), e.action(), e.target(), e.detail(), e.prevHash());
                    if (!MessageDigest.isEqual(
                            want.getBytes(StandardCharsets.US_ASCII),
                            e.hash() == null ? new byte[0] : e.hash().getBytes(StandardCharsets.US_ASCII))) {
                        return VerifyResult.bad(
                                checked,
                                e.seq(),
                                "entry " + e.seq() + " was altered: its content does not match its hash"
                                        + " (or the log was written with another chain key)" + tamperAdvice());
                    }
                    if (e.seq() == anchorSeq) {
                        if (!e.hash().equals(anchorHash)) {
                            return VerifyResult.bad(
                                    checked,
                                    e.seq(),
                                    "entry " + e.seq() + " is not the one the recorded head names:"
                                            + " the log was rewritten from there on" + tamperAdvice());
                        }
                        anchorSeen = true;
                    }
                    prevHash = e.hash();
                    expected++;
                    checked++;
                }
                if (page.size() < VERIFY_PAGE) {
                    break;
                }
            }
        } catch (SQLException e) {
            throw new AuditException("could not read the audit log: " + e.getMessage(), e);
        }
        if (anchorSeq > 0 && !anchorSeen) {
            return VerifyResult.bad(
                    checked,
                    expected,
                    "the log ends at entry " + (expected - 1) + " but the recorded head is entry " + anchorSeq
                            + ": entries " + expected + "…" + anchorSeq + " were removed" + tamperAdvice());
        }
        return VerifyResult.good(checked);
    }

    private static String tamperAdvice() {
        return "; treat the log as tampered with from there on: compare with a backup of the controller database and"
                + " review who can write to it";
    }

    /** HMAC-SHA-256 over an unambiguous (length-prefixed) encoding of the entry's fields, hex. */
    String hmac(long seq, Instant at, String actor, String action, String target, String detail, String prevHash) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(256);
        try (DataOutputStream out = new DataOutputStream(buf)) {
            field(out, DOMAIN);
            out.writeLong(seq);
            out.writeLong(Math.addExact(Math.multiplyExact(at.getEpochSecond(), 1_000_000L), at.getNano() / 1000));
            field(out, actor);
            field(out, action);
            field(out, target);
            field(out, detail);
            field(out, prevHash);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            return HEX.formatHex(mac.doFinal(buf.toByteArray()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
        }
    }

    private static void field(DataOutputStream out, String s) throws IOException {
        if (s == null) {
            out.writeInt(-1);
        } else {
            field(out, s.getBytes(StandardCharsets.UTF_8));
        }
    }

    private static void field(DataOutputStream out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
    }

    private boolean isPostgres(Connection c) throws SQLException {
        Boolean p = postgres;
        if (p == null) {
            p = "PostgreSQL".equalsIgnoreCase(c.getMetaData().getDatabaseProductName());
            postgres = p;
        }
        return p;
    }

    /**
     * Moves the anchor file forward to {@code e}, but only while the entry it names is still in the log unchanged:
     * after the log was cut back or rewritten, overwriting the anchor would erase the evidence.
     */
    private void writeAnchor(AuditEntry e) {
        Path file = anchorFile;
        if (file == null) {
            return;
        }
        try {
            if (anchoredHash == null) {
                String[] old = readAnchor(file).map(s -> s.split(":", 2)).orElse(new String[] {"0", GENESIS});
                anchoredSeq = Long.parseLong(old[0].trim());
                anchoredHash = old.length > 1 ? old[1].trim() : "";
            }
            // the common case, this instance's own previous entry, needs no look-up
            boolean extendsAnchor = e.seq() == anchoredSeq + 1 && e.prevHash().equals(anchoredHash);
            if (!extendsAnchor && anchoredSeq > 0) {
                String there = hashAt(anchoredSeq);
                if (there == null) {
                    log.error(
                            "the audit log no longer holds entry {}, which {} records: entries were removed; run "
                                    + "`lifeboat audit verify`",
                            anchoredSeq,
                            file);
                    return;
                }
                if (!there.equals(anchoredHash)) {
                    log.error(
                            "audit entry {} is no longer the one {} records: the log was rewritten; run `lifeboat "
                                    + "audit verify`",
                            anchoredSeq,
                            file);
                    return;
                }
            }
            if (e.seq() <= anchoredSeq) {
                return; // never move the anchor back
            }
            writeAnchor(file, e.seq() + ":" + e.hash());
            anchoredSeq = e.seq();
            anchoredHash = e.hash();
        } catch (IOException | RuntimeException ex) {
            // the entry is committed; a stale anchor only proves less, so the caller's action must not fail for it
            log.warn("could not record the audit head in {}: {}", file, ex.toString());
        }
    }

    private String hashAt(long seq) {
        try (Connection c = ds.getConnection();
                PreparedStatement ps = c.prepareStatement("SELECT hash FROM audit_log WHERE seq = ?")) {
            ps.setLong(1, seq);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        } catch (SQLException ex) {
            throw new AuditException("could not read the audit log: " + ex.getMessage(), ex);
        }
    }

    /** Writes an anchor (a {@link #head()} value) to {@code file}, replacing it atomically. */
    public static void writeAnchor(Path file, String head) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            Files.writeString(tmp, head + "\n");
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The anchor stored in {@code file}, if the file exists. */
    public static Optional<String> readAnchor(Path file) throws IOException {
        try {
            String s = Files.readString(file).trim();
            return s.isEmpty() ? Optional.empty() : Optional.of(s);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /**
     * Reads the 32-byte chain key from {@code file}, or creates it (random, mode 0600) when the file does not exist.
     * Two processes creating it at once end up with the same key.
     *
     * @throws AuditException.BadKeyFile when the file exists with another length
     */
    public static byte[] loadOrCreateKey(Path file) throws IOException {
        if (!Files.exists(file)) {
            Path dir = file.toAbsolutePath().getParent();
            Files.createDirectories(dir);
            byte[] key = new byte[KEY_BYTES];
            new SecureRandom().nextBytes(key);
            Set<PosixFilePermission> owner = PosixFilePermissions.fromString("rw-------");
            Path tmp = Files.createTempFile(dir, ".audit-key", ".tmp", PosixFilePermissions.asFileAttribute(owner));
            try {
                Files.write(tmp, key);
                try (var ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
                // a hard link never replaces an existing file: whoever links first wins, the other reads that key
                Files.createLink(file, tmp);
                return key;
            } catch (FileAlreadyExistsException raced) {
                // fall through and read the winner's key
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        byte[] key = Files.readAllBytes(file);
        if (key.length != KEY_BYTES) {
            throw new AuditException.BadKeyFile(
                    "the audit chain key file " + file + " holds " + key.length + " bytes instead of "
                            + KEY_BYTES
                            + ": restore it from your backup of the controller's keys (a new key would make every "
                            + "existing"
                            + " audit entry fail verification)");
        }
        return key;
    }

    private static void requireText(String name, String value, int max, boolean nullable) {
        if (value == null || value.isBlank()) {
            if (nullable && value == null) {
                return;
            }
            throw new IllegalArgumentException("audit " + name + " is required");
        }
        if (value.length() > max) {
            throw new IllegalArgumentException(
                    "audit " + name + " is longer than " + max + " characters: " + value.substring(0, 40) + "…");
        }
        if (value.indexOf('\0') >= 0) {
            throw new IllegalArgumentException(
                    "audit " + name + " contains a NUL character, which PostgreSQL cannot store");
        }
    }

    private static boolean pause(Backoff.Attempts tries) {
        try {
            return tries.pause(Backoff.NEVER);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AuditException("interrupted while appending to the audit log");
        }
    }
}
