package dev.lifeboat.bench;

import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.progress.ProgressListener;
import dev.lifeboat.progress.ProgressTracker;
import dev.lifeboat.repository.ChunkIndex;
import dev.lifeboat.repository.ChunkWriter;
import dev.lifeboat.repository.FileBackup;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.RepositoryConfig;
import dev.lifeboat.repository.Snapshot;
import dev.lifeboat.repository.chunking.FixedBlockChunker;
import dev.lifeboat.repository.compress.Compression;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The whole backup data path for relation files, as one backup worker ({@code --parallel 1}) runs it: the data set is
 * written as 16 MiB relation files to tmpfs, and each invocation backs up the next one with {@link FileBackup} (4 MiB
 * reads from the page cache, fixed 128 KiB blocks, HMAC-SHA-256 chunk id (also feeding the file's digest), dedup
 * lookup,
 * compression, AES-256-GCM, pack building and the pack's SHA-256) into a {@link ChunkWriter} session of an encrypted
 * repository on tmpfs. Finished packs are written by ChunkWriter's upload threads, as in a real backup (that write
 * runs beside the worker, not on it). A new ChunkWriter with an empty index starts every pass over the data set, so
 * nothing is deduplicated against an earlier pass.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@OperationsPerInvocation(Sizes.MIB_PER_SLICE)
@Fork(
        value = 1,
        jvmArgsAppend = {Defaults.XMX, Defaults.NATIVE, Defaults.UNSAFE})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class PipelineBenchmark {
    @Param({"lz4", "low"})
    public String compression;

    private Path dir;
    private Repository repo;
    private Compression level;
    private Path[] files;
    private String[] relPaths;
    private PosixFileAttributes[] attrs;
    private FileBackup reader;
    private FixedBlockChunker blocks;
    private ProgressTracker progress;
    private final Cancellation cancel = Cancellation.none();
    private ChunkWriter writer;
    private ChunkWriter.Session session;
    private final List<ChunkWriter> done = new ArrayList<>();
    private int next;

    @Setup(Level.Trial)
    public void setup(DataSet d) throws IOException {
        dir = Scratch.create("pipeline");
        repo = Scratch.newRepository(dir);
        level = Compression.parse(compression);
        Path rel = dir.resolve("pgdata/base/5");
        Files.createDirectories(rel);
        int n = d.slices;
        files = new Path[n];
        relPaths = new String[n];
        attrs = new PosixFileAttributes[n];
        for (int i = 0; i < n; i++) {
            String name = i == 0 ? "16384" : "16384." + i; // segments of one relation (real ones are 1 GiB)
            files[i] = rel.resolve(name);
            relPaths[i] = "base/5/" + name;
            try (var out = Files.newOutputStream(files[i])) {
                out.write(d.data, i * Sizes.SLICE, Sizes.SLICE);
            }
            attrs[i] = FileBackup.attributes(files[i]);
        }
        d.data = null; // the worker reads the files: keep only the page cache copy
        RepositoryConfig.Chunking ck = repo.config().chunking();
        reader = new FileBackup(Math.max(ck.maxSize(), ck.relationBlockSize()));
        blocks = new FixedBlockChunker(ck.relationBlockSize());
        progress = new ProgressTracker("backup", "copy", (long) n * Sizes.SLICE, n, ProgressListener.NONE);
        newWriter();
    }

    private void newWriter() {
        writer = new ChunkWriter(repo, new ChunkIndex(), level, 2); // PgBackup: max(2, 2 × --parallel)
        session = writer.session();
    }

    /** Backs up the next 16 MiB relation file. */
    @Benchmark
    public Snapshot.FileEntry backupFile() throws IOException {
        int i = next;
        next = i + 1 == files.length ? 0 : i + 1;
        if (i == 0 && writer.totalChunks() > 0) { // a new pass: a new writer, so nothing dedups against the last pass
            session.close();
            done.add(writer);
            newWriter();
        }
        return reader.backup(files[i], relPaths[i], attrs[i], blocks, session, progress, cancel);
    }

    /** Outside the measurement: wait for the uploads, write the index, and empty the repository for the next iteration.
     * */
    @TearDown(Level.Iteration)
    public void drain() throws IOException {
        session.close();
        done.add(writer);
        for (ChunkWriter w : done) {
            w.finish();
            w.close();
        }
        done.clear();
        Scratch.delete(dir.resolve("repo").resolve(Repository.DATA));
        Scratch.delete(dir.resolve("repo").resolve(Repository.INDEX));
        newWriter();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        session.close();
        writer.close();
        Scratch.delete(dir);
    }
}
