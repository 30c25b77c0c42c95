package dev.lifeboat.bench;

/**
 * Units of work. Every benchmark invocation processes one {@link #SLICE} of the data set (the next one, cycling through
 * all of it) and is declared as {@link #MIB_PER_SLICE} operations, so JMH's ops/s are MiB/s of PostgreSQL file data.
 */
public final class Sizes {
    public static final int MIB = 1 << 20;
    /** Operations per invocation: one operation is one MiB of input file data. */
    public static final int MIB_PER_SLICE = 16;
    /** Bytes per invocation: 16 MiB, the size of a WAL segment. */
    public static final int SLICE = MIB_PER_SLICE * MIB;
    /** Relation files are stored in blocks of this size (RepositoryConfig.Chunking.defaults relationBlockSize). */
    public static final int BLOCK = 128 * 1024;

    public static final int BLOCKS_PER_SLICE = SLICE / BLOCK;
    /** FileBackup reads files 4 MiB at a time. */
    public static final int READ_SIZE = 4 * MIB;

    private Sizes() {}
}
