package dev.lifeboat.repository;

import com.github.luben.zstd.Zstd;
import dev.lifeboat.common.Backoff;
import dev.lifeboat.engine.postgres.TimelineHistory;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The WAL archive inside a repository: one object per segment or history file under {@code wal/<timeline>/},
 * compressed (zstd-1: WAL is cheap to compress and must keep up with the server) and sealed with the file name as
 * associated data, so an object cannot be passed off as another segment.
 * <p>
 * Every push names its writer ({@link WalSource}) and is checked before anything is stored: the WAL's own page header
 * must name the system identifier the repository is bound to ({@link RepositoryBinding}), and the timeline must be
 * the writer's own ({@link TimelineOwners}), so neither another cluster nor a restored copy can put WAL under names
 * the original uses. Objects are created with the store's conditional create, so two writers racing on one name
 * cannot both win.
 */
public final class WalArchive {
    public static final String PREFIX = "wal/";
    private static final Pattern SEGMENT = Pattern.compile("[0-9A-F]{24}");
    private static final Pattern PARTIAL = Pattern.compile("[0-9A-F]{24}\\.partial");
    private static final Pattern HISTORY = Pattern.compile("[0-9A-F]{8}\\.history");
    private static final Pattern BACKUP_HISTORY = Pattern.compile("[0-9A-F]{24}\\.[0-9A-F]{8}\\.backup");
    /** sizeof(XLogLongPageHeaderData) on 64-bit hosts. */
    public static final int LONG_HEADER_SIZE = 40;

    private static final int XLP_LONG_HEADER = 0x0002;
    /**
     * Creates the store refused as existing while it held no such object: a concurrent create still in progress (S3
     * answers 409), or the object deleted meanwhile. A few more tries, shortly after one another.
     */
    private static final Backoff CREATE_RETRIES =
            Backoff.exponential(Duration.ofMillis(20), Duration.ofMillis(200)).withMaxAttempts(10);

    public enum PushResult {
        STORED,
        ALREADY_ARCHIVED
    }

    private final Repository repo;
    private final TimelineOwners owners;
    /** The binding once checked: it never changes, so a long-lived writer reads it once. */
    private volatile RepositoryBinding.Binding binding;

    public WalArchive(Repository repo) {
        this.repo = repo;
        this.owners = new TimelineOwners(repo);
    }

    public static boolean isWalFileName(String name) {
        return SEGMENT.matcher(name).matches()
                || HISTORY.matcher(name).matches()
                || PARTIAL.matcher(name).matches()
                || BACKUP_HISTORY.matcher(name).matches();
    }

    public static boolean isSegment(String name) {
        return SEGMENT.matcher(name).matches();
    }

    /** An in-progress segment written by the streaming receiver (or by PostgreSQL at promotion): {@code
     * <segment>.partial}. */
    public static boolean isPartial(String name) {
        return PARTIAL.matcher(name).matches();
    }

    public static boolean isHistory(String name) {
        return HISTORY.matcher(name).matches();
    }

    /** The object key: {@code wal/<timeline>/<name>}. */
    public static String key(String name) {
        if (!isWalFileName(name)) {
            throw new IllegalArgumentException("'" + name + "' is not a WAL segment or history file name");
        }
        return PREFIX + name.substring(0, 8) + "/" + name;
    }

    private static int timelineOf(String name) {
        return Integer.parseUnsignedInt(name.substring(0, 8), 16);
    }

    private static byte[] aad(String name) {
        return ("lifeboat-wal:" + name).getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * The long page header at the start of every segment (PostgreSQL's XLogLongPageHeaderData in
     * {@code access/xlog_internal.h}, host byte order): xlp_info u16 at 2, xlp_pageaddr u64 at 8, then, after the
     * short header's padding to 24, xlp_sysid u64 at 24, xlp_seg_size u32 at 32, xlp_xlog_blcksz u32 at 36.
     */
    public record PageHeader(long pageAddress, long systemIdentifier, long segmentSize, int blockSize) {
        /** The header, or null if the bytes do not start with a plausible long header. */
        public static PageHeader parse(byte[] b) {
            if (b.length < LONG_HEADER_SIZE) {
                return null;
            }
            ByteBuffer bb = ByteBuffer.wrap(b, 0, LONG_HEADER_SIZE).order(ByteOrder.nativeOrder());
            if ((bb.getShort(2) & XLP_LONG_HEADER) == 0) {
                return null;
            }
            long seg = bb.getInt(32) & 0xffffffffL;
            int blck = bb.getInt(36);
            if (seg < (1 << 20)
                    || seg > (1L << 30)
                    || Long.bitCount(seg) != 1
                    || blck < 1024
                    || blck > 65536
                    || Integer.bitCount(blck) != 1) {
                return null;
            }
            return new PageHeader(bb.getLong(8), bb.getLong(24), seg, blck);
        }
    }

    /** Every recorded timeline owner, by timeline (timelines archived before owners existed and not pushed to since
     * have none). */
    public Map<Integer, TimelineOwners.Owner> timelineOwners() throws IOException {
        return owners.all();
    }

    public TimelineOwners owners() {
        return owners;
    }

    /**
     * Stores a WAL file durably for {@code who}, after the identity checks (see the class comment). The object is
     * created only if the name is free; if it is taken, the same plaintext is {@code ALREADY_ARCHIVED} (PostgreSQL
     * archives a file again after a crash) and other content is refused. A {@code <segment>.partial} (PostgreSQL
     * archives one for the timeline it leaves at promotion) may only grow; see {@link #pushPartial}.
     *
     * @throws RefusedException when the file belongs to another cluster, another cluster's timeline, or conflicts
     *                          with what is archived
     */
    public PushResult push(String name, byte[] content, WalSource who) throws IOException {
        key(name);
        // the partial PostgreSQL archives at promotion is of the timeline it has just left: it claims nothing
        Admission a = admit(name, content, who, !isPartial(name));
        if (a.foreign()) {
            if (isPartial(name) && archiveHoldsValidPart(name, content)) {
                return PushResult.ALREADY_ARCHIVED;
            }
            throw foreignTimeline(name, who, a.owner());
        }
        return isPartial(name) ? storePartial(name, content, who, a.owner()) : storeOnce(name, content, who, a.owner());
    }

    /**
     * Stores (or replaces) the streaming receiver's {@code <segment>.partial} of a segment it is still filling. With
     * {@code extendsOwnWrite} the receiver vouches that the archive holds its own previous write of this partial and
     * {@code content} extends it (it rewrites the partial every flush interval): then it is replaced without a read.
     * Otherwise (the first write of a segment) the partial rule applies: the existing object must be a prefix of
     * {@code content} (it grew); if {@code content} is a prefix of it, nothing is written ({@code ALREADY_ARCHIVED});
     * any other difference is refused, except against PostgreSQL's promotion copy (see the format document).
     */
    public PushResult pushPartial(String name, byte[] content, WalSource who, boolean extendsOwnWrite)
            throws IOException {
        if (!isPartial(name)) {
            throw new IllegalArgumentException("'" + name + "' is not a partial WAL segment name");
        }
        Admission a = admit(name, content, who, true);
        if (a.foreign()) {
            throw foreignTimeline(name, who, a.owner());
        }
        if (extendsOwnWrite) {
            repo.store().put(key(name), seal(name, content));
            return PushResult.STORED;
        }
        return storePartial(name, content, who, a.owner());
    }

    /** The push rules without the identity checks, for tests in this package that build archives from made-up bytes. */
    PushResult push(String name, byte[] content) throws IOException {
        key(name);
        return isPartial(name) ? storePartial(name, content, null, null) : storeOnce(name, content, null, null);
    }

    /**
     * Checks {@code who} against the repository's binding (binding it if it has none) and against the owner of
     * {@code timeline}, if it has one, without writing WAL: a writer can refuse to start rather than fail at its first
     * file.
     */
    public void checkSource(WalSource who, int timeline) throws IOException {
        requireBinding(who);
        Optional<TimelineOwners.Owner> owner = owners.get(timeline);
        if (owner.isPresent()
                && !owner.get().systemIdentifier().equals(Long.toUnsignedString(who.systemIdentifier()))) {
            throw otherSystemOwner(owner.get(), who);
        }
        if (owner.isPresent() && !owner.get().clusterId().equals(who.clusterId())) {
            throw foreignTimeline("WAL of timeline " + timeline, who, owner.get());
        }
    }

    // ---------------------------------------------------------------- the checks

    private record Admission(TimelineOwners.Owner owner, boolean foreign) {}

    private Admission admit(String name, byte[] content, WalSource who, boolean claim) throws IOException {
        long sysid = who.systemIdentifier();
        if (isSegment(name) || isPartial(name)) {
            PageHeader h = PageHeader.parse(content);
            if (h == null) {
                // a partial too short for the header passes: the receiver checked the server's identifier itself
                if (isSegment(name) || content.length >= LONG_HEADER_SIZE) {
                    throw new RefusedException(
                            RefusedException.Reason.NOT_WAL,
                            name + " pushed by " + who.describe()
                                    + " is not a WAL segment: it does not start with PostgreSQL's long page header");
                }
            } else {
                long start = segmentNumber(name, h.segmentSize()) * h.segmentSize();
                if (h.pageAddress() != start) {
                    throw new RefusedException(
                            RefusedException.Reason.NOT_WAL,
                            name + " pushed by " + who.describe()
                                    + " holds the WAL page of LSN " + lsn(h.pageAddress())
                                    + ", but that segment starts at "
                                    + lsn(start) + ": the file was renamed or damaged");
                }
                if (isSegment(name) && content.length != h.segmentSize()) {
                    throw new RefusedException(
                            RefusedException.Reason.NOT_WAL,
                            name + " pushed by " + who.describe()
                                    + " is " + content.length + " bytes, but its header says segments are "
                                    + h.segmentSize()
                                    + " bytes: it is truncated");
                }
                if (h.systemIdentifier() != sysid) {
                    throw new RefusedException(
                            RefusedException.Reason.OTHER_SYSTEM,
                            name + " was written by PostgreSQL "
                                    + "system identifier " + Long.toUnsignedString(h.systemIdentifier())
                                    + " (its page header), but "
                                    + "it is pushed by " + who.describe() + ", whose system identifier is "
                                    + Long.toUnsignedString(sysid) + ": the file belongs to another cluster");
                }
            }
        }
        int tli = timelineOf(name);
        TimelineOwners.Owner owner = owners.get(tli).orElse(null);
        if (owner == null || !owner.systemIdentifier().equals(Long.toUnsignedString(sysid))) {
            // an owner record of our system implies the binding was checked when it was made: no read for it
            try {
                requireBinding(who);
            } catch (RefusedException e) {
                throw new RefusedException(
                        e.reason(), "cannot archive " + name + " (timeline " + tli + "): " + e.getMessage());
            }
        }
        if (owner == null && claim) {
            owner = owners.claim(tli, who, name);
        }
        if (owner != null && !owner.systemIdentifier().equals(Long.toUnsignedString(sysid))) {
            throw otherSystemOwner(owner, who);
        }
        return new Admission(owner, owner != null && !owner.clusterId().equals(who.clusterId()));
    }

    private void requireBinding(WalSource who) throws IOException {
        RepositoryBinding.Binding b = binding;
        if (b != null && b.systemId() == who.systemIdentifier()) {
            return;
        }
        binding = RepositoryBinding.requireOrBind(repo, who);
    }

    private RefusedException otherSystemOwner(TimelineOwners.Owner owner, WalSource who) {
        return new RefusedException(
                RefusedException.Reason.OTHER_SYSTEM,
                "timeline " + owner.timeline() + " of " + repo.uri()
                        + " is archived by system identifier " + owner.systemIdentifier() + ", " + owner.describe()
                        + "; this is "
                        + who.describe() + ", system identifier " + Long.toUnsignedString(who.systemIdentifier())
                        + ": another cluster. Give each cluster its own repository");
    }

    private RefusedException foreignTimeline(String name, WalSource who, TimelineOwners.Owner owner) {
        return new RefusedException(
                RefusedException.Reason.OTHER_TIMELINE_OWNER,
                "timeline " + owner.timeline() + " of "
                        + repo.uri() + " is archived by " + owner.describe() + "; this is " + who.describe()
                        + ", pushing " + name
                        + ": two clusters are writing one timeline, and their WAL would mix under the same names. Give "
                        + "the copy "
                        + "its own repository, or restore it with archiving off (archive_mode = off)");
    }

    // ---------------------------------------------------------------- storing

    private byte[] seal(String name, byte[] content) {
        return repo.sealMetadata(Compression.zstd(content, 1), aad(name));
    }

    /** A segment, history or backup history file: created once, never replaced. */
    private PushResult storeOnce(String name, byte[] content, WalSource who, TimelineOwners.Owner owner)
            throws IOException {
        Optional<byte[]> existing = createOrRead(name, key(name), seal(name, content));
        if (existing.isEmpty()) {
            return PushResult.STORED;
        }
        if (Arrays.equals(existing.get(), content)) {
            return PushResult.ALREADY_ARCHIVED;
        }
        throw differentContent(name, who, owner, "");
    }

    /** A {@code .partial}: created, or replaced only by a longer version that extends it. */
    private PushResult storePartial(String name, byte[] content, WalSource who, TimelineOwners.Owner owner)
            throws IOException {
        String key = key(name);
        byte[] sealed = seal(name, content);
        Optional<byte[]> found = createOrRead(name, key, sealed);
        if (found.isEmpty()) {
            return PushResult.STORED;
        }
        byte[] existing = found.get();
        if (isPrefix(existing, content)) {
            if (existing.length == content.length) {
                return PushResult.ALREADY_ARCHIVED;
            }
            repo.store().put(key, sealed); // it grew
            return PushResult.STORED;
        }
        if (isPrefix(content, existing)) {
            return PushResult.ALREADY_ARCHIVED; // the archive already holds more of this segment
        }
        // PostgreSQL's promotion copy is the whole segment file: its WAL ends at the switch point and the rest is
        // whatever the file held before. Beyond that point only a streamed partial holds this timeline's WAL.
        long segSize = segmentSizeOf(content, existing);
        long cut = switchOffset(name, segSize);
        if (cut > 0
                && cut <= Math.min(existing.length, content.length)
                && Arrays.equals(existing, 0, (int) cut, content, 0, (int) cut)) {
            boolean newWhole = content.length == segSize;
            boolean oldWhole = existing.length == segSize;
            if (oldWhole && !newWhole) {
                repo.store().put(key, sealed);
                return PushResult.STORED;
            }
            if (newWhole && !oldWhole) {
                return PushResult.ALREADY_ARCHIVED;
            }
        }
        throw differentContent(
                name,
                who,
                owner,
                " (" + existing.length + " bytes archived, " + content.length
                        + " pushed, and neither extends the other)");
    }

    /**
     * For another cluster's {@code .partial} of a timeline it has left (PostgreSQL archives one at promotion): true if
     * the archive already holds every byte of it that is WAL of that timeline, i.e. up to where a later timeline's
     * history file says the timeline was left, in {@code <segment>} or {@code <segment>.partial}.
     */
    private boolean archiveHoldsValidPart(String name, byte[] content) throws IOException {
        long segSize = segmentSizeOf(content, new byte[0]);
        long cut = switchOffset(name, segSize);
        if (cut <= 0 || cut > content.length) {
            return false;
        }
        for (String candidate : List.of(name.substring(0, 24), name)) {
            Optional<byte[]> archived = read(candidate);
            if (archived.isPresent()
                    && archived.get().length >= cut
                    && Arrays.equals(archived.get(), 0, (int) cut, content, 0, (int) cut)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Where a later timeline's history file says {@code name}'s timeline was left, as an offset into {@code name}'s
     * segment; -1 if none says so inside it. PostgreSQL numbers a new timeline one above the newest history file in
     * the archive, so the children are probed upwards until the first one that is missing.
     */
    private long switchOffset(String name, long segSize) throws IOException {
        int tli = timelineOf(name);
        long start = segmentNumber(name, segSize) * segSize;
        for (int child = tli + 1; child > 0; child++) {
            Optional<byte[]> h = read(String.format("%08X.history", child));
            if (h.isEmpty()) {
                return -1;
            }
            for (TimelineHistory.Entry e : TimelineHistory.parse(child, new String(h.get(), StandardCharsets.UTF_8))
                    .entries()) {
                if (e.parent() == tli && e.switchLsn() > start && e.switchLsn() < start + segSize) {
                    return e.switchLsn() - start;
                }
            }
        }
        return -1;
    }

    private static long segmentSizeOf(byte[] a, byte[] b) {
        PageHeader h = PageHeader.parse(a);
        if (h == null) {
            h = PageHeader.parse(b);
        }
        return h == null ? 16L << 20 : h.segmentSize();
    }

    private static boolean isPrefix(byte[] prefix, byte[] of) {
        return prefix.length <= of.length && Arrays.equals(prefix, 0, prefix.length, of, 0, prefix.length);
    }

    private RefusedException differentContent(String name, WalSource who, TimelineOwners.Owner owner, String detail) {
        return new RefusedException(
                RefusedException.Reason.DIFFERENT_CONTENT,
                "WAL file " + name + " is already archived in "
                        + repo.uri() + " with different content" + detail + "; this is "
                        + (who == null ? "an unnamed writer" : who.describe())
                        + (owner == null
                                ? ""
                                : ", and timeline " + owner.timeline() + " is archived by " + owner.describe())
                        + ". One cluster never writes two versions of a file: another copy of this cluster (a "
                        + "file-system "
                        + "snapshot or pg_basebackup clone, which has no restore marker) is archiving into this "
                        + "repository. "
                        + "Give it its own repository");
    }

    /**
     * Creates {@code key} holding {@code sealed} unless it exists: empty when this call created it, else the content
     * the archive holds under {@code name}. A create refused while no such object can be read is tried again, as
     * {@link #CREATE_RETRIES} allows.
     */
    private Optional<byte[]> createOrRead(String name, String key, byte[] sealed) throws IOException {
        Backoff.Attempts attempts = CREATE_RETRIES.start();
        while (true) {
            if (repo.store().putIfAbsent(key, sealed)) {
                return Optional.empty();
            }
            Optional<byte[]> existing = read(name);
            if (existing.isPresent()) {
                return existing;
            }
            boolean again;
            try {
                again = attempts.pause(Backoff.NEVER);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while storing " + name);
            }
            if (!again) {
                throw new IOException("could not store " + name + " in " + repo.uri()
                        + ": the store keeps refusing to create it as existing but holds no such object");
            }
        }
    }

    private static String lsn(long v) {
        return String.format("%X/%X", v >>> 32, v & 0xffffffffL);
    }

    // ---------------------------------------------------------------- reading

    /** Reads and authenticates a WAL file; empty if it is not archived. */
    public Optional<byte[]> read(String name) throws IOException {
        byte[] sealed;
        try {
            sealed = repo.store().get(key(name));
        } catch (BlobNotFoundException e) {
            return Optional.empty();
        }
        byte[] plain = repo.openMetadata(sealed, aad(name), "archived WAL file " + name);
        try {
            return Optional.of(Compression.unzstd(plain));
        } catch (IllegalArgumentException e) {
            throw new RepositoryException.Corrupt("archived WAL file " + name + " is damaged: " + e.getMessage());
        }
    }

    public boolean exists(String name) throws IOException {
        return repo.store().stat(key(name)).isPresent();
    }

    public void delete(String name) throws IOException {
        repo.store().delete(key(name));
    }

    /** Every archived WAL file name, in order (timeline, then position). */
    public List<String> list() throws IOException {
        List<String> out = new ArrayList<>();
        for (BlobInfo b : repo.store().list(PREFIX)) {
            out.add(b.key().substring(b.key().lastIndexOf('/') + 1));
        }
        out.sort(null);
        return out;
    }

    public List<BlobInfo> listObjects() throws IOException {
        return repo.store().list(PREFIX);
    }

    /**
     * The segment number of a segment or partial name ({@code TTTTTTTTXXXXXXXXYYYYYYYY[.partial]}): the segment that
     * starts at LSN {@code number * segmentSize}.
     */
    public static long segmentNumber(String name, long segmentSize) {
        return Long.parseLong(name.substring(8, 16), 16) * (0x1_0000_0000L / segmentSize)
                + Long.parseLong(name.substring(16, 24), 16);
    }

    /**
     * How many bytes of WAL the partial {@code name} in {@code store} holds (this repository's store, or a region's
     * copy of it, which has the same keys), read from the compressed frame's header without decompressing it; -1 if
     * the partial is not there (the receiver completed the segment meanwhile).
     */
    public long partialLength(BlobStore store, String name) throws IOException {
        if (!isPartial(name)) {
            throw new IllegalArgumentException("'" + name + "' is not a partial WAL segment name");
        }
        byte[] sealed;
        try {
            sealed = store.get(key(name));
        } catch (BlobNotFoundException e) {
            return -1;
        }
        long n = Zstd.getFrameContentSize(
                repo.openMetadata(sealed, aad(name), "archived WAL file " + name + " in " + store.uri()));
        if (n < 0) {
            throw new RepositoryException.Corrupt(
                    "archived WAL file " + name + " in " + store.uri() + " is damaged: no content size in its header");
        }
        return n;
    }
}
