package dev.lifeboat.engine.postgres.walsummary;

import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * What the WAL of an LSN range says about relations' main forks, like PostgreSQL 17's block reference table
 * ({@code blkreftable.c}): the blocks each record referenced, and per relation a limit block below which it was
 * truncated or at which it was (re)created in the range. Also the databases whose directories were created or
 * dropped as a whole (their files carry no WAL of their own).
 */
public final class ModifiedBlocks {
    private record Relation(int spc, int db, int rel) {}

    private record Segment(Relation rel, int segment) {}

    private final int blocksPerSegment;
    private final Map<Relation, Long> limits = new HashMap<>();
    private final Map<Segment, BitSet> blocks = new HashMap<>();
    private final Set<Long> databases = new HashSet<>();
    private long referencedBlocks;

    ModifiedBlocks(int blocksPerSegment) {
        this.blocksPerSegment = blocksPerSegment;
    }

    void markModified(int spc, int db, int rel, int block) {
        long b = Integer.toUnsignedLong(block);
        Segment s = new Segment(new Relation(spc, db, rel), (int) (b / blocksPerSegment));
        blocks.computeIfAbsent(s, k -> new BitSet()).set((int) (b % blocksPerSegment));
        referencedBlocks++;
    }

    /** The relation was truncated to {@code block} blocks, or created ({@code 0}), within the range. */
    void setLimit(int spc, int db, int rel, long block) {
        limits.merge(new Relation(spc, db, rel), block, Math::min);
    }

    /** The database's directory in the tablespace was created from a template or dropped within the range. */
    void databaseReplaced(int spc, int db) {
        databases.add(((long) spc << 32) | Integer.toUnsignedLong(db));
    }

    /** Block references counted (a block referenced twice counts twice). */
    public long referencedBlocks() {
        return referencedBlocks;
    }

    /** Every modified block as "spc/db/rel blk" (relation-relative block numbers), for tests. */
    SortedSet<String> describeModified() {
        SortedSet<String> out = new TreeSet<>();
        blocks.forEach((s, bits) -> bits.stream()
                .forEach(b -> out.add(Integer.toUnsignedString(s.rel().spc()) + "/"
                        + Integer.toUnsignedString(s.rel().db()) + "/"
                        + Integer.toUnsignedString(s.rel().rel())
                        + " blk " + ((long) s.segment() * blocksPerSegment + b))));
        return out;
    }

    /** The limit block recorded for a relation, or null. */
    Long limit(int spc, int db, int rel) {
        return limits.get(new Relation(spc, db, rel));
    }

    /**
     * What changed in one segment file of a main fork.
     *
     * @param limit    blocks of the segment from this one on may have been replaced wholesale (truncated away,
     *                 re-created); {@link Long#MAX_VALUE} when the range holds no such thing
     * @param modified the segment's blocks the range's records referenced (segment-relative)
     */
    public record Changes(long limit, BitSet modified) {}

    /** The changes to {@code f} in the range, or null if the file must be read whole (not a main fork, or its
     * database's directory was replaced). */
    public Changes changesIn(RelationFile f) {
        if (f.fork() != RelationFile.MAIN_FORK
                || databases.contains(((long) f.tablespace() << 32) | Integer.toUnsignedLong(f.database()))) {
            return null;
        }
        Relation r = new Relation(f.tablespace(), f.database(), f.relfilenode());
        Long limit = limits.get(r);
        long segmentLimit = limit == null ? Long.MAX_VALUE : Math.max(0, limit - (long) f.segment() * blocksPerSegment);
        BitSet modified = blocks.get(new Segment(r, f.segment()));
        return new Changes(segmentLimit, modified == null ? new BitSet() : modified);
    }
}
