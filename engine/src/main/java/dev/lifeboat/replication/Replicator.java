package dev.lifeboat.replication;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JacksonException;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.repository.WalArchive;
import dev.lifeboat.repository.crypto.CryptoProvider;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.util.Hosts;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies one repository to one secondary region so that the secondary is, at every moment, a consistent repository
 * that restores on its own. The queue of work is durable by construction: it is the primary's inventory minus the
 * secondary's, so a replicator killed mid-copy simply finds the rest again when it restarts.
 *
 * <p>Order inside a pass: the secondary is listed first, then the primary's manifests, index files, packs and WAL, in
 * that order (a manifest is written only after its packs and index are durable, so any manifest seen here has its
 * packs in the listings that follow). Copies go packs, index files, WAL, manifests last; objects the primary no
 * longer has are deleted manifests first, packs and index files only once they were gone for a whole pass. A pass
 * never deletes anything unless both stores hold the same {@code config}, so a wrong URI cannot wipe a region.
 *
 * <p>A write-once region ({@code immutable}) gets every object once: partial WAL segments, the only objects the
 * primary rewrites in place, are not copied there (its RPO counts whole segments), and an object the primary deleted
 * leaves the region only once its retention has passed; until then status counts it as retained.
 *
 * <p>A region's {@code bandwidth} is a rate limit on its store, not the replicator's business: open the secondary with
 * {@link RepositoryAccess#openRegion} and its store stack keeps the copy within it.
 */
public final class Replicator {
    private static final Logger log = LoggerFactory.getLogger(Replicator.class);
    /** Per-region control and status objects live in the primary under this prefix (never replicated). */
    public static final String STATE_PREFIX = "replication/";

    static final List<String> LIST_ORDER = List.of("snapshots/", "index/", "data/", "wal/", "timelines/");
    /** Objects outside the listed prefixes: the repository's config and its binding to a system identifier. */
    static final List<String> SINGLE_OBJECTS = List.of("config", "cluster");

    static final List<String> COPY_ORDER =
            List.of("config", "cluster", "timelines/", "data/", "index/", "wal/", "snapshots/");
    static final List<String> DELETE_ORDER = List.of("snapshots/", "index/", "data/", "wal/", "timelines/", "cluster");

    public enum State {
        RUNNING,
        PAUSED,
        STOPPED
    }

    /** What an operator asked for ({@code replication pause|resume|stop}). */
    public record Control(State state, Instant changedAt) {}

    /** Why {@link #run} returned. */
    public enum Exit {
        /** {@code replication stop} asked it to: a supervisor should not start it again before a resume */
        STOPPED,
        /** the caller cancelled it (a signal, the sandbox closing) */
        CANCELLED
    }

    /**
     * One region's replication as last seen.
     *
     * @param lagObjects           objects in the primary not (or not in their current version) in the region
     * @param lagBytes             their size
     * @param oldestPendingSeconds age of the oldest of them (since written to the primary)
     * @param newestWalTime        when the newest WAL object the region holds was written to the primary
     * @param retainedObjects      objects the primary no longer has that a write-once region keeps until their
     *                             retention passes
     * @param retainedUntil        when the first of them may go
     * @param rpoSeconds           what a loss of the primary region would lose: 0 when the region holds every WAL
     *                             object the primary has (an idle database is not behind), else the age of the
     *                             oldest WAL object it lacks (since written to the primary); null when the primary
     *                             holds no WAL
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Status(
            String name,
            String region,
            String uri,
            String mode,
            State state,
            Instant measuredAt,
            long lagObjects,
            long lagBytes,
            Double oldestPendingSeconds,
            Instant newestWalTime,
            Double rpoSeconds,
            long copiedObjects,
            long copiedBytes,
            double bytesPerSecond,
            long errors,
            String lastError,
            Instant lastPassEnd,
            long retainedObjects,
            Instant retainedUntil) {}

    /** What one pass did. */
    public record Pass(int copied, long copiedBytes, int deleted, int skipped, double seconds) {}

    private final BlobStore primary;
    private final BlobStore secondary;
    private final ReplicationConfig.Region region;
    private final Clock clock;
    private long copiedObjects;
    private long copiedBytes;
    private long errors;
    private String lastError;
    private Instant lastPassEnd;
    private double rate;
    private long controlCheckedAt;
    private static final long STATUS_EVERY_NANOS = 5_000_000_000L;
    private long statusWrittenAt = System.nanoTime() - STATUS_EVERY_NANOS;
    private State controlState = State.RUNNING;
    private Instant startedAt;
    /** The pass under way, for the heartbeat; null between passes. */
    private volatile Heartbeat.Progress progress;

    private long beatAt = System.nanoTime() - Heartbeat.EVERY.toNanos();
    private boolean exitWritten;
    /**
     * Only a continuous replicator ({@link #run}) beats: a single pass (a controller's job, {@code --once}) is no
     * replicator that must stay alive.
     */
    private volatile boolean beating;

    public Replicator(BlobStore primary, BlobStore secondary, ReplicationConfig.Region region) {
        this(primary, secondary, region, Clock.systemUTC());
    }

    Replicator(BlobStore primary, BlobStore secondary, ReplicationConfig.Region region, Clock clock) {
        if (primary.uri().equals(secondary.uri())) {
            throw new IllegalArgumentException(
                    "region " + region.name() + " is the primary repository itself (" + primary.uri() + ")");
        }
        this.primary = primary;
        this.secondary = secondary;
        this.region = region;
        this.clock = clock;
    }

    static String controlKey(String region) {
        return STATE_PREFIX + region + "/control";
    }

    static String statusKey(String region) {
        return STATE_PREFIX + region + "/status";
    }

    public static void setControl(BlobStore primary, String region, State state) throws IOException {
        primary.put(controlKey(region), Json.MAPPER.writeValueAsBytes(new Control(state, Instant.now())));
    }

    public static State control(BlobStore primary, String region) throws IOException {
        return controlRecord(primary, region).state();
    }

    /** The state asked for and when; RUNNING with no time when nobody asked. */
    public static Control controlRecord(BlobStore primary, String region) throws IOException {
        byte[] raw;
        try {
            raw = primary.get(controlKey(region));
        } catch (BlobNotFoundException e) {
            return new Control(State.RUNNING, null);
        }
        try {
            Control c = Json.MAPPER.readValue(raw, Control.class);
            return c.state() == null ? new Control(State.RUNNING, c.changedAt()) : c;
        } catch (JacksonException e) {
            throw new IOException(primary.uri() + ": " + controlKey(region) + " is not a valid control object ("
                    + e.getOriginalMessage() + "); set it again with 'lifeboat replication pause|resume|stop'");
        }
    }

    /** The status the running replicator last wrote, if any. */
    public static Optional<Status> lastStatus(BlobStore primary, String region) throws IOException {
        try {
            return Optional.of(Json.MAPPER.readValue(primary.get(statusKey(region)), Status.class));
        } catch (BlobNotFoundException e) {
            return Optional.empty();
        }
    }

    /**
     * Replicates until stopped ({@code replication stop}) or cancelled: a pass, then a pause of {@code interval}
     * (none while a pass still found work). Errors are counted, reported in the status and retried next pass. Beats
     * a {@link Heartbeat} throughout, and a last one on the way out.
     */
    public Exit run(Duration interval, Cancellation cancel) throws IOException {
        log.info("replicating {} to region {} ({})", primary.uri(), region.name(), secondary.uri());
        startedAt = clock.instant();
        beating = true;
        beat(true);
        // its own thread: one object's copy can take minutes (a large pack, a throttled region), and the replicator
        // is alive all the while
        Thread beater = Thread.ofVirtual()
                .name("lifeboat-heartbeat-" + region.name())
                .start(() -> {
                    while (!Thread.currentThread().isInterrupted()) {
                        try {
                            Thread.sleep(1000);
                        } catch (InterruptedException e) {
                            return;
                        }
                        beat(false);
                    }
                });
        try {
            return replicate(interval, cancel);
        } finally {
            beater.interrupt();
            try {
                beater.join(Duration.ofSeconds(30));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private Exit replicate(Duration interval, Cancellation cancel) throws IOException {
        while (!cancel.isCancelled()) {
            Pass pass = null;
            try {
                State state = control(primary, region.name());
                controlState = state;
                if (state == State.STOPPED) {
                    log.info("region {}: stopped by request", region.name());
                    writeStatus(liveStatus());
                    exited("stopped by request ('replication stop')");
                    return Exit.STOPPED;
                }
                if (state == State.RUNNING) {
                    pass = pass(cancel);
                }
            } catch (IOException | RuntimeException e) {
                if (cancel.isCancelled()) {
                    break;
                }
                errors++;
                lastError = e.getMessage();
                log.warn("region {}: pass failed, retrying: {}", region.name(), e.getMessage());
            }
            // the report lists both stores again: after a pass that changed something, or every few seconds
            // otherwise, not after every idle pass (listings cost requests on object stores)
            boolean changed = pass != null && pass.copied() + pass.deleted() > 0;
            if (changed || pass == null || System.nanoTime() - statusWrittenAt > STATUS_EVERY_NANOS) {
                try {
                    writeStatus(liveStatus());
                    statusWrittenAt = System.nanoTime();
                } catch (IOException | RuntimeException e) {
                    log.warn("region {}: cannot write status: {}", region.name(), e.getMessage());
                }
            }
            if (pass == null || pass.copied() == 0) {
                sleep(interval, cancel);
            }
        }
        exited("cancelled");
        return Exit.CANCELLED;
    }

    /** Writes a heartbeat when one is due (or {@code force}); a failed write is logged, never fatal. */
    private synchronized void beat(boolean force) {
        long now = System.nanoTime();
        if (!beating || exitWritten || (!force && now - beatAt < Heartbeat.EVERY.toNanos())) {
            return;
        }
        beatAt = now;
        writeHeartbeat(null, null);
    }

    private synchronized void exited(String why) {
        if (!beating) {
            return;
        }
        exitWritten = true; // the heartbeat thread must not overwrite the last word
        writeHeartbeat(clock.instant(), why);
    }

    private void writeHeartbeat(Instant exitedAt, String why) {
        try {
            new Heartbeat(
                            Hosts.name(),
                            ProcessHandle.current().pid(),
                            startedAt,
                            clock.instant(),
                            exitedAt == null ? progress : null,
                            exitedAt,
                            why)
                    .write(primary, region.name());
        } catch (IOException | RuntimeException e) {
            log.warn("region {}: cannot write the heartbeat: {}", region.name(), e.getMessage());
        }
    }

    private void sleep(Duration d, Cancellation cancel) {
        long until = System.nanoTime() + d.toNanos();
        while (!cancel.isCancelled() && System.nanoTime() < until) {
            try {
                Thread.sleep(Math.min(100, Math.max(1, (until - System.nanoTime()) / 1_000_000)));
            } catch (InterruptedException e) {
                cancel.cancel("interrupted"); // not a busy loop of further sleeps
                return;
            }
        }
    }

    private record Inventory(Map<String, BlobInfo> primary, Map<String, BlobInfo> secondary) {}

    private Inventory inventory() throws IOException {
        Map<String, BlobInfo> sec = new TreeMap<>();
        for (String prefix : LIST_ORDER) {
            secondary.list(prefix).forEach(b -> sec.put(b.key(), b));
        }
        for (String key : SINGLE_OBJECTS) {
            secondary.stat(key).ifPresent(b -> sec.put(b.key(), b));
        }
        Map<String, BlobInfo> prim = new LinkedHashMap<>();
        for (String prefix : LIST_ORDER) {
            primary.list(prefix).forEach(b -> prim.put(b.key(), b));
        }
        for (String key : SINGLE_OBJECTS) {
            primary.stat(key).ifPresent(b -> prim.put(b.key(), b));
        }
        return new Inventory(prim, sec);
    }

    /**
     * The primary's object is not in the region, or not in its current version. Only WAL partials are rewritten in
     * place, with the same size: this replicator remembers which primary version it copied; without that memory
     * (another process, or after a restart) a region copy older than the primary's by more than a second counts
     * as stale (object stores keep modification times to the second).
     */
    private boolean pending(BlobInfo p, BlobInfo s) {
        if (region.immutable() != null && p.key().endsWith(".partial")) {
            return false; // rewritten in place on the primary: a write-once region takes whole segments only
        }
        if (s == null || s.size() != p.size()) {
            return true;
        }
        if (!p.key().endsWith(".partial")) {
            return false;
        }
        Instant copied = copiedPartials.get(p.key());
        return copied != null
                ? !copied.equals(p.lastModified())
                : p.lastModified().isAfter(s.lastModified().plusSeconds(1));
    }

    private final Map<String, Instant> copiedPartials = new ConcurrentHashMap<>();

    private static List<BlobInfo> ordered(Iterable<BlobInfo> objects, List<String> order) {
        List<BlobInfo> out = new ArrayList<>();
        for (String prefix : order) {
            for (BlobInfo b : objects) {
                if (prefix.endsWith("/") ? b.key().startsWith(prefix) : b.key().equals(prefix)) {
                    out.add(b);
                }
            }
        }
        return out;
    }

    /**
     * One pass: copy what the region lacks, then delete what the primary no longer has. Within {@link #run}, its
     * progress goes into the heartbeat every {@link Heartbeat#EVERY}.
     */
    public Pass pass(Cancellation cancel) throws IOException {
        try {
            return copyThenDelete(cancel);
        } finally {
            if (progress != null) {
                progress = null;
                beat(true); // the pass is over: status must not go on showing it
            }
        }
    }

    private Pass copyThenDelete(Cancellation cancel) throws IOException {
        long t0 = System.nanoTime();
        controlState = control(primary, region.name());
        controlCheckedAt = System.nanoTime();
        if (controlState != State.RUNNING) {
            return new Pass(0, 0, 0, 0, 0);
        }
        Set<String> absentLastPass = PendingDeletes.read(primary, region.name()); // before listing: see there
        Inventory inv = inventory();
        boolean sameRepository = checkSameRepository(inv);
        copiedPartials.keySet().retainAll(inv.primary().keySet());
        List<BlobInfo> todo = new ArrayList<>();
        long todoBytes = 0;
        for (BlobInfo p : ordered(inv.primary().values(), COPY_ORDER)) {
            if (pending(p, inv.secondary().get(p.key()))) {
                todo.add(p);
                todoBytes += p.size();
            }
        }
        Instant passStart = clock.instant();
        if (!todo.isEmpty()) {
            // at once, so status shows a pass from its start; then every EVERY
            progress = Heartbeat.Progress.of(passStart, todo.size(), todoBytes, 0, 0, passStart);
            beat(true);
        } else {
            beat(false);
        }
        int copied = 0;
        int skipped = 0;
        long bytes = 0;
        boolean dataSkipped = false;
        for (BlobInfo p : todo) {
            progress =
                    Heartbeat.Progress.of(passStart, todo.size(), todoBytes, copied + skipped, bytes, clock.instant());
            beat(false);
            cancel.throwIfCancelled();
            if (!awaitRunning(cancel)) {
                break;
            }
            if (dataSkipped && p.key().startsWith("snapshots/")) {
                // a pack or index file vanished since the listing (gc repacked it): a manifest listed now may
                // need its replacement, which this listing does not show; manifests wait for the next pass
                skipped++;
                continue;
            }
            byte[] data;
            try {
                data = primary.get(p.key());
            } catch (BlobNotFoundException gone) {
                skipped++; // deleted on the primary since the listing (expire, gc): nothing to copy
                dataSkipped |= p.key().startsWith("data/") || p.key().startsWith("index/");
                continue;
            }
            secondary.put(p.key(), data);
            if (p.key().endsWith(".partial")) {
                copiedPartials.put(p.key(), p.lastModified()); // the listed version or a newer one: recopied next pass
            }
            copied++;
            bytes += data.length;
            copiedObjects++;
            copiedBytes += data.length;
        }
        int deleted = 0;
        int retainedNow = 0;
        Keeper kept = new Keeper(clock.instant());
        Set<String> absentNow = new HashSet<>();
        if (controlState == State.RUNNING && sameRepository) {
            boolean indexLeft = false;
            for (BlobInfo s : ordered(inv.secondary().values(), DELETE_ORDER)) {
                String key = s.key();
                if (inv.primary().containsKey(key)) {
                    continue;
                }
                // index files, packs and finished WAL go one pass after they left the primary: by then every
                // manifest that used them (deleted on the primary first) has left the region too, even if it
                // was still listed when this pass began; packs only once no index file that left the primary
                // is still here (an index naming a deleted pack would resolve chunks to nothing)
                // what a write-once region keeps stays (see Keeper); a kept index file is one still here
                if (kept.keeps(s)) {
                    indexLeft |= key.startsWith("index/");
                    retainedNow++;
                    continue;
                }
                boolean delayed = key.startsWith("data/")
                        || key.startsWith("index/")
                        || (key.startsWith("wal/") && !key.endsWith(".partial"));
                if ((delayed && !absentLastPass.contains(key)) || (key.startsWith("data/") && indexLeft)) {
                    absentNow.add(key);
                    indexLeft |= key.startsWith("index/");
                    continue;
                }
                cancel.throwIfCancelled();
                secondary.delete(key);
                deleted++;
            }
        }
        if (!absentNow.equals(absentLastPass)) {
            PendingDeletes.write(primary, region.name(), absentNow);
        }
        if (retainedNow > 0) {
            log.debug(
                    "region {}: {} objects the primary deleted stay until their retention passes",
                    region.name(),
                    retainedNow);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (bytes > 0) {
            double r = bytes / Math.max(seconds, 1e-3);
            rate = rate == 0 ? r : 0.7 * rate + 0.3 * r;
        }
        lastPassEnd = clock.instant();
        if (copied + deleted > 0) {
            log.info(
                    "region {}: copied {} objects ({} bytes), deleted {}, in {} s",
                    region.name(),
                    copied,
                    bytes,
                    deleted,
                    String.format("%.1f", seconds));
        }
        return new Pass(copied, bytes, deleted, skipped, seconds);
    }

    /**
     * True when the region holds this repository; false when it holds nothing yet (it gets one). Refuses a region
     * with another repository's config, or objects but no config: a wrong URI must never be overwritten or wiped.
     */
    private boolean checkSameRepository(Inventory inv) throws IOException {
        if (!inv.primary().containsKey("config")) {
            throw new IOException(primary.uri() + " holds no repository (no config object): nothing to replicate");
        }
        if (!inv.secondary().containsKey("config")) {
            if (!inv.secondary().isEmpty()) {
                throw new IOException("region " + region.name() + " (" + secondary.uri() + ") holds objects but no "
                        + "repository config; refusing to replicate into it (empty it, or point the region elsewhere)");
            }
            return false;
        }
        if (!Arrays.equals(primary.get("config"), secondary.get("config"))) {
            throw new IOException("region " + region.name() + " (" + secondary.uri() + ") holds another repository "
                    + "(its config differs from " + primary.uri() + "'s); refusing to touch it");
        }
        return true;
    }

    /** Honours pause/stop between objects (checked at most once a second); false when paused, stopped or cancelled. */
    private boolean awaitRunning(Cancellation cancel) throws IOException {
        long now = System.nanoTime();
        if (now - controlCheckedAt > 1_000_000_000L) {
            controlState = control(primary, region.name());
            controlCheckedAt = now;
        }
        return controlState == State.RUNNING && !cancel.isCancelled();
    }

    /** A write-once region's object still inside its retention: not to be deleted (the store would refuse). */
    private boolean retained(BlobInfo inRegion, Instant now) {
        return region.immutable() != null
                && region.immutable().releasedAt(inRegion.lastModified()).isAfter(now);
    }

    /**
     * What a write-once region keeps of the objects the primary deleted, asked in {@link #DELETE_ORDER}: an object
     * inside its retention; what a kept manifest uses (packs, index files and WAL are stored before it, so their
     * retention ends first); the packs a kept index file names (an index naming a deleted pack resolves chunks to
     * nothing).
     */
    private final class Keeper {
        private final Instant now;
        private boolean manifestKept;
        private boolean indexKept;

        Keeper(Instant now) {
            this.now = now;
        }

        boolean keeps(BlobInfo inRegion) {
            String key = inRegion.key();
            boolean keep = retained(inRegion, now)
                    || (manifestKept && !key.startsWith("snapshots/"))
                    || (indexKept && key.startsWith("data/"));
            manifestKept |= keep && key.startsWith("snapshots/");
            indexKept |= keep && key.startsWith("index/");
            return keep;
        }
    }

    /** Lag, oldest pending object and region RPO, measured now from both inventories. */
    public Status liveStatus() throws IOException {
        Inventory inv = inventory();
        Instant now = clock.instant();
        long lagObjects = 0;
        long lagBytes = 0;
        Instant oldest = null;
        Instant newestWal = null;
        Instant oldestMissingWal = null;
        boolean anyWal = false;
        long retainedObjects = 0;
        Instant retainedUntil = null;
        for (BlobInfo s : inv.secondary().values()) {
            if (!inv.primary().containsKey(s.key()) && retained(s, now)) {
                retainedObjects++;
                Instant at = region.immutable().releasedAt(s.lastModified());
                retainedUntil = retainedUntil == null || at.isBefore(retainedUntil) ? at : retainedUntil;
            }
        }
        List<BlobInfo> partialsMissing = new ArrayList<>();
        for (BlobInfo p : inv.primary().values()) {
            BlobInfo s = inv.secondary().get(p.key());
            boolean wal = p.key().startsWith("wal/");
            boolean partial = wal && p.key().endsWith(".partial");
            anyWal |= wal;
            boolean pending = pending(p, s);
            if (pending) {
                lagObjects++;
                lagBytes += p.size();
                if (oldest == null || p.lastModified().isBefore(oldest)) {
                    oldest = p.lastModified();
                }
            }
            if (partial) {
                // rewritten in place: its store time is its last rewrite, not when the commits the region lacks were
                // made; a write-once region never gets it, so it always lacks the commits streamed into it
                boolean superseded = partialSuperseded(p.key(), inv.primary().keySet());
                if (!superseded && (pending || region.immutable() != null)) {
                    partialsMissing.add(p);
                }
            } else if (wal && pending) {
                if (oldestMissingWal == null || p.lastModified().isBefore(oldestMissingWal)) {
                    oldestMissingWal = p.lastModified();
                }
            } else if (wal
                    && s != null
                    && (newestWal == null || p.lastModified().isAfter(newestWal))) {
                newestWal = p.lastModified();
            }
        }
        for (BlobInfo p : partialsMissing) {
            // the commits the region lacks began after the version it holds (stored at its copy's time) or, without
            // one, after the newest whole segment it holds was complete
            BlobInfo copy = region.immutable() == null ? inv.secondary().get(p.key()) : null;
            Instant since = copy != null ? copy.lastModified() : newestWal != null ? newestWal : p.lastModified();
            if (oldestMissingWal == null || since.isBefore(oldestMissingWal)) {
                oldestMissingWal = since;
            }
        }
        return new Status(
                region.name(),
                region.region(),
                secondary.uri(),
                region.parsedMode() == ReplicationConfig.Mode.SYNCHRONOUS ? "sync" : "async",
                controlState,
                now,
                lagObjects,
                lagBytes,
                oldest == null ? null : seconds(oldest, now),
                newestWal,
                !anyWal ? null : oldestMissingWal == null ? 0.0 : seconds(oldestMissingWal, now),
                copiedObjects,
                copiedBytes,
                rate,
                errors,
                lastError,
                lastPassEnd,
                retainedObjects,
                retainedUntil);
    }

    /**
     * A partial segment whose commits the archive holds elsewhere: its whole segment, a whole segment at or past it on
     * its own or a later timeline (streaming moved on, or a promotion carried its WAL up to the switch point into the
     * new timeline's segment), or a later timeline's history (what the partial holds past the switch point is the
     * abandoned branch, not needed by any restore on the new timeline).
     */
    static boolean partialSuperseded(String partialKey, Collection<String> primaryKeys) {
        String name = partialKey.substring(partialKey.lastIndexOf('/') + 1, partialKey.length() - ".partial".length());
        String tli = name.substring(0, 8);
        String segment = name.substring(8);
        for (String key : primaryKeys) {
            if (!key.startsWith(WalArchive.PREFIX)) {
                continue;
            }
            String other = key.substring(key.lastIndexOf('/') + 1);
            if (WalArchive.isSegment(other)
                    && other.substring(0, 8).compareTo(tli) >= 0
                    && other.substring(8).compareTo(segment) >= 0) {
                return true;
            }
            if (WalArchive.isHistory(other) && other.substring(0, 8).compareTo(tli) > 0) {
                return true;
            }
        }
        return false;
    }

    private static double seconds(Instant from, Instant to) {
        return Math.max(0, Duration.between(from, to).toMillis() / 1000.0);
    }

    private void writeStatus(Status s) throws IOException {
        primary.put(statusKey(region.name()), Json.MAPPER.writeValueAsBytes(s));
    }

    /**
     * What {@link #verify} found.
     *
     * @param retained objects the primary no longer has that a write-once region keeps until their retention passes:
     *                 neither a difference nor something to repair
     */
    public record Verification(
            String name,
            List<String> missing,
            List<String> differing,
            List<String> extra,
            int repaired,
            List<String> retained) {
        public boolean ok() {
            return missing.isEmpty() && differing.isEmpty() && extra.isEmpty();
        }
    }

    /**
     * Compares both inventories and every object's SHA-256 (read from both stores); with {@code repair}, copies
     * what is missing or differs (in pass order) and deletes what the primary no longer has.
     */
    public Verification verify(boolean repair, Cancellation cancel) throws IOException {
        Inventory inv = inventory();
        checkSameRepository(inv); // never "repair" another repository into this one
        List<String> missing = new ArrayList<>();
        List<String> differing = new ArrayList<>();
        List<String> extra = new ArrayList<>();
        List<BlobInfo> toCopy = new ArrayList<>();
        List<String> retained = new ArrayList<>();
        Instant now = clock.instant();
        for (BlobInfo p : ordered(inv.primary().values(), COPY_ORDER)) {
            cancel.throwIfCancelled();
            if (region.immutable() != null && p.key().endsWith(".partial")) {
                continue; // never copied to a write-once region
            }
            BlobInfo s = inv.secondary().get(p.key());
            if (s == null) {
                missing.add(p.key());
                toCopy.add(p);
            } else if (s.size() != p.size()
                    || !MessageDigest.isEqual(sha256(primary, p.key()), sha256(secondary, p.key()))) {
                differing.add(p.key());
                toCopy.add(p);
            }
        }
        // what a pass keeps by retention is no difference; the rest is, and --repair deletes it as a pass would
        Keeper kept = new Keeper(now);
        for (BlobInfo s : ordered(inv.secondary().values(), DELETE_ORDER)) {
            if (!inv.primary().containsKey(s.key())) {
                (kept.keeps(s) ? retained : extra).add(s.key());
            }
        }
        int repaired = 0;
        if (repair) {
            for (BlobInfo p : toCopy) {
                try {
                    secondary.put(p.key(), primary.get(p.key()));
                    repaired++;
                } catch (BlobNotFoundException gone) {
                    // deleted on the primary meanwhile
                }
            }
            for (String key : extra) {
                secondary.delete(key);
                repaired++;
            }
        }
        return new Verification(region.name(), missing, differing, extra, repaired, retained);
    }

    private static byte[] sha256(BlobStore store, String key) throws IOException {
        return CryptoProvider.sha256().digest(store.get(key));
    }
}
