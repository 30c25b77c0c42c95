package dev.lifeboat.bench;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The next 16 MiB slice of the data set, copied (outside the measured time) into a buffer that stays in the CPU cache,
 * as a backup worker's bytes are: FileBackup reads a file 4 MiB at a time into its own buffer, and every stage after
 * that read works on bytes the read has just brought into the cache. Stages measured straight from the 1 GiB array
 * would stream it from memory instead, which is slower for some of them (see ReferenceBenchmark.sha256FromMemory).
 */
@State(Scope.Thread)
public class HotSlice {
    public final byte[] buf = new byte[Sizes.SLICE];
    /** Index of the slice in {@link #buf}. */
    public int index;

    @Setup(Level.Invocation)
    public void next(DataSet d) {
        index = d.nextSliceIndex();
        System.arraycopy(d.data, index * Sizes.SLICE, buf, 0, Sizes.SLICE);
    }
}
