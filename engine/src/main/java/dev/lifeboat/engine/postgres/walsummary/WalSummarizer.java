package dev.lifeboat.engine.postgres.walsummary;

import dev.lifeboat.engine.postgres.Lsn;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressTracker;
import dev.lifeboat.repository.WalArchive;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Summarizes the WAL of an LSN range into {@link ModifiedBlocks}, the way PostgreSQL 17's WAL summarizer does
 * ({@code walsummarizer.c}): every block reference to a main fork, relation creation and truncation (storage records),
 * relations dropped by a transaction's end, and database directories created from a template or dropped (database
 * records). Segments come from pg_wal, or from
 * the archive when pg_wal no longer has them or holds something else (a recycled file). Used for PostgreSQL 15 only:
 * the record layouts read here are 15's.
 */
public final class WalSummarizer {
    private static final Logger log = LoggerFactory.getLogger(WalSummarizer.class);
    private static final int RM_XACT = 1;
    private static final int RM_SMGR = 2;
    private static final int RM_DBASE = 4;
    private static final int XLOG_PARAMETER_CHANGE = 0x60;
    private static final int XLOG_SMGR_CREATE = 0x10;
    private static final int XLOG_SMGR_TRUNCATE = 0x20;
    private static final int SMGR_TRUNCATE_HEAP = 0x0001;
    private static final int XLOG_DBASE_CREATE_FILE_COPY = 0x00;
    private static final int XLOG_DBASE_CREATE_WAL_LOG = 0x10;
    private static final int XLOG_DBASE_DROP = 0x20;
    private static final int WAL_LEVEL_REPLICA = 1;
    private static final int XLOG_XACT_OPMASK = 0x70;
    private static final int XLOG_XACT_COMMIT = 0x00;
    private static final int XLOG_XACT_ABORT = 0x20;
    private static final int XLOG_XACT_COMMIT_PREPARED = 0x30;
    private static final int XLOG_XACT_ABORT_PREPARED = 0x40;
    private static final int XLOG_XACT_HAS_INFO = 0x80;
    private static final int XACT_XINFO_HAS_DBINFO = 1;
    private static final int XACT_XINFO_HAS_SUBXACTS = 1 << 1;
    private static final int XACT_XINFO_HAS_RELFILENODES = 1 << 2;
    private static final int ATTEMPTS = 4;

    private final Path pgWal;
    private final WalArchive archive;
    private final int timeline;
    private final long segmentSize;
    private final int blocksPerSegment;
    private final Cancellation cancel;
    private final ProgressTracker progress;

    /** What a summary read: the WAL bytes and where they came from. */
    public record Summary(ModifiedBlocks blocks, long walBytes, int segmentsFromArchive) {}

    /** @param progress counts the segments read (null: none) */
    public WalSummarizer(
            Path pgWal,
            WalArchive archive,
            int timeline,
            long segmentSize,
            int blocksPerSegment,
            Cancellation cancel,
            ProgressTracker progress) {
        this.pgWal = pgWal;
        this.archive = archive;
        this.timeline = timeline;
        this.segmentSize = segmentSize;
        this.blocksPerSegment = blocksPerSegment;
        this.cancel = cancel;
        this.progress = progress;
    }

    /**
     * The blocks modified by records starting in [{@code start}, {@code end}) on this summarizer's timeline, or empty
     * (with the reason logged) when the WAL cannot be read completely: a gap, a damaged segment, or a stretch run at
     * {@code wal_level = minimal}. Cancellable between segments; each segment read counts as a file of progress.
     */
    public Optional<Summary> summarize(long start, long end) {
        Set<Long> fromArchive = new HashSet<>();
        for (int attempt = 1; ; attempt++) {
            Set<Long> archived = new HashSet<>();
            ModifiedBlocks blocks = new ModifiedBlocks(blocksPerSegment);
            WalRecordReader reader = new WalRecordReader(segmentSize, seg -> {
                cancel.throwIfCancelled();
                if (progress != null) {
                    progress.addBytes(segmentSize);
                    progress.fileDone();
                }
                if (!fromArchive.contains(seg)) {
                    byte[] local = fromPgWal(seg);
                    if (local != null) {
                        log.debug("WAL summary: segment {} from pg_wal", seg);
                        return local;
                    }
                }
                archived.add(seg);
                log.debug("WAL summary: segment {} from the archive", seg);
                return archive.read(name(seg)).orElse(null);
            });
            try {
                reader.walk(start, end, r -> visit(r, blocks));
                return Optional.of(new Summary(blocks, reader.bytesRead(), archived.size()));
            } catch (WalRecordReader.BadWal e) {
                boolean retry = false;
                for (long s = e.segment; s <= e.segment + 1; s++) {
                    retry |= !archived.contains(s) && fromArchive.add(s);
                }
                if (!retry || attempt == ATTEMPTS) {
                    log.warn(
                            "WAL from {} to {} cannot be summarized ({}): changed files are read whole",
                            WalRecordReader.hex(start),
                            WalRecordReader.hex(end),
                            e.getMessage());
                    return Optional.empty();
                }
                log.debug("WAL summary: {}; reading those segments from the archive", e.getMessage());
            } catch (IOException | IndexOutOfBoundsException e) {
                // IndexOutOfBoundsException: a record's main data shorter than its type's struct
                log.warn(
                        "WAL from {} to {} cannot be summarized ({}): changed files are read whole",
                        WalRecordReader.hex(start),
                        WalRecordReader.hex(end),
                        e.toString());
                return Optional.empty();
            }
        }
    }

    private String name(long seg) {
        return Lsn.segmentName(timeline, seg, segmentSize);
    }

    private byte[] walBuffer;

    /** The segment as pg_wal has it (in one buffer reused from segment to segment); null if pg_wal has none. */
    private byte[] fromPgWal(long seg) throws IOException {
        if (walBuffer == null) {
            walBuffer = new byte[(int) segmentSize];
        }
        return PgWalSegment.read(pgWal.resolve(name(seg)), walBuffer);
    }

    /** Records the record's effect on main forks (walsummarizer.c: SummarizeWAL and its Summarize*Record). */
    private static void visit(WalRecordReader.Record r, ModifiedBlocks out) throws IOException {
        for (int i = 0; i < r.blocks; i++) {
            // the free space map is not fully WAL-logged and the visibility map has bits cleared without a
            // reference to its own page: both are read whole, so only main forks are tracked
            if (r.fork[i] == RelationFile.MAIN_FORK) {
                out.markModified(r.spc[i], r.db[i], r.rel[i], r.block[i]);
            }
        }
        switch (r.rmid) {
            case WalRecordReader.RM_XLOG -> {
                if (r.info == XLOG_PARAMETER_CHANGE) {
                    // xl_parameter_change: five ints, then wal_level
                    int walLevel = r.main.getInt(20);
                    if (walLevel < WAL_LEVEL_REPLICA) {
                        throw new IOException("the server ran with wal_level = minimal at " + WalRecordReader.hex(r.lsn)
                                + " (changes then skip WAL)");
                    }
                }
            }
            case RM_XACT -> droppedRelations(r, out);
            case RM_SMGR -> {
                if (r.info == XLOG_SMGR_CREATE) {
                    // xl_smgr_create: RelFileNode, ForkNumber
                    if (r.main.getInt(12) == RelationFile.MAIN_FORK) {
                        out.setLimit(r.main.getInt(0), r.main.getInt(4), r.main.getInt(8), 0);
                    }
                } else if (r.info == XLOG_SMGR_TRUNCATE) {
                    // xl_smgr_truncate: BlockNumber blkno, RelFileNode, int flags
                    if ((r.main.getInt(16) & SMGR_TRUNCATE_HEAP) != 0) {
                        out.setLimit(r.main.getInt(4), r.main.getInt(8), r.main.getInt(12), r.mainU32(0));
                    }
                }
            }
            case RM_DBASE -> {
                if (r.info == XLOG_DBASE_CREATE_FILE_COPY || r.info == XLOG_DBASE_CREATE_WAL_LOG) {
                    // xl_dbase_create_*_rec: Oid db_id, Oid tablespace_id, ...
                    out.databaseReplaced(r.main.getInt(4), r.main.getInt(0));
                } else if (r.info == XLOG_DBASE_DROP) {
                    // xl_dbase_drop_rec: Oid db_id, int ntablespaces, Oid tablespace_ids[]
                    int db = r.main.getInt(0);
                    int n = r.main.getInt(4);
                    for (int i = 0; i < n; i++) {
                        out.databaseReplaced(r.main.getInt(8 + 4 * i), db);
                    }
                }
            }
            default -> {}
        }
        // pg_rewind's safety net (parsexlog.c): a record that changes relation files in a way of its own must be one
        // of those handled above
        if (r.specialRelUpdate && r.rmid != RM_SMGR && r.rmid != RM_DBASE && r.rmid != RM_XACT) {
            throw new IOException("record at " + WalRecordReader.hex(r.lsn) + " (resource manager " + r.rmid
                    + ", info 0x" + Integer.toHexString(r.info) + ") changes relation files in a way not summarized");
        }
    }

    /**
     * A transaction's end drops the relations it deleted (or created, when it aborts): their files may come back
     * under the same relfilenode, so every block counts as changed (walsummarizer.c: SummarizeXactRecord). The
     * layout is PostgreSQL 15's xl_xact_commit / xl_xact_abort as ParseCommitRecord reads it: the time, xinfo when
     * XLOG_XACT_HAS_INFO, then database info, subtransactions and the dropped RelFileNodes, each when flagged.
     */
    private static void droppedRelations(WalRecordReader.Record r, ModifiedBlocks out) {
        int op = r.info & XLOG_XACT_OPMASK;
        if (op != XLOG_XACT_COMMIT
                && op != XLOG_XACT_ABORT
                && op != XLOG_XACT_COMMIT_PREPARED
                && op != XLOG_XACT_ABORT_PREPARED) {
            return;
        }
        int xinfo = (r.info & XLOG_XACT_HAS_INFO) != 0 ? r.main.getInt(8) : 0;
        int p = (r.info & XLOG_XACT_HAS_INFO) != 0 ? 12 : 8;
        if ((xinfo & XACT_XINFO_HAS_DBINFO) != 0) {
            p += 8;
        }
        if ((xinfo & XACT_XINFO_HAS_SUBXACTS) != 0) {
            p += 4 + 4 * r.main.getInt(p);
        }
        if ((xinfo & XACT_XINFO_HAS_RELFILENODES) != 0) {
            int n = r.main.getInt(p);
            for (int i = 0; i < n; i++) {
                int at = p + 4 + 12 * i;
                out.setLimit(r.main.getInt(at), r.main.getInt(at + 4), r.main.getInt(at + 8), 0);
            }
        }
    }
}
