package dev.lifeboat.bench;

import java.io.IOException;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** The benchmark input: {@code lifeboat.bench.bytes} of PostgreSQL heap pages (see {@link PgHeapData}), read once per
 * fork. */
@State(Scope.Benchmark)
public class DataSet {
    @Param({PgHeapData.PGBENCH, PgHeapData.REALISTIC})
    public String dataset;

    public byte[] data;
    public int slices;
    private int next;

    @Setup(Level.Trial)
    public void load() throws IOException {
        data = PgHeapData.load(dataset, PgHeapData.configuredBytes());
        slices = data.length / Sizes.SLICE;
        next = 0;
    }

    /** The offset of the next slice; cycles through the whole data set. */
    public int nextSlice() {
        int s = next;
        next = s + 1 == slices ? 0 : s + 1;
        return s * Sizes.SLICE;
    }

    /** The index of the next slice (same cycle as {@link #nextSlice()}). */
    public int nextSliceIndex() {
        return nextSlice() / Sizes.SLICE;
    }
}
