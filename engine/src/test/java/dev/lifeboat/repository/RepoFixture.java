package dev.lifeboat.repository;

import dev.lifeboat.engine.postgres.PostgresBackupInfo;
import dev.lifeboat.repository.chunking.Chunker;
import dev.lifeboat.repository.compress.Compression;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntFunction;

/** Shared helpers for repository tests: small-pack repositories, test data and manifests. */
final class RepoFixture {
    private RepoFixture() {}

    /** A key-file key source (HMAC KEK): encrypted repositories without Argon2's cost. */
    static KeySource fastKey() {
        return new KeySource.KeyFile(
                Path.of("/nonexistent/test.key"),
                "dGVzdC1rZXktZmlsZS1jb250ZW50cy0wMTIzNDU2Nzg5YWJjZGVm".getBytes(StandardCharsets.UTF_8));
    }

    /** Creates a repository, then rewrites its (unauthenticated) config with a small pack size so tests get many packs.
     * */
    static Repository create(BlobStore store, boolean encrypted, int packSize) throws IOException {
        return create(store, encrypted, packSize, RepositoryConfig.VERSION);
    }

    /** As {@link #create(BlobStore, boolean, int)}, in the given format version (1 for the old sealing). */
    static Repository create(BlobStore store, boolean encrypted, int packSize, int version) throws IOException {
        KeySource key = encrypted ? fastKey() : null;
        RepositoryConfig c = Repository.init(store, key, !encrypted, version);
        RepositoryConfig small = new RepositoryConfig(
                c.format(),
                c.version(),
                c.id(),
                c.created(),
                c.chunking(),
                packSize,
                c.cipher(),
                c.keys(),
                c.plainIdKey());
        store.put(Repository.CONFIG_KEY, Json.MAPPER.writeValueAsBytes(small));
        Repository repo = Repository.open(store, key);
        if (repo.config().packSize() != packSize
                || repo.config().encrypted() != encrypted
                || repo.version() != version) {
            throw new IllegalStateException("fixture config not applied");
        }
        return repo;
    }

    static Repository create(Path dir, boolean encrypted, int packSize) throws IOException {
        return create(new LocalBlobStore(dir), encrypted, packSize);
    }

    static Repository create(Path dir, boolean encrypted, int packSize, int version) throws IOException {
        return create(new LocalBlobStore(dir), encrypted, packSize, version);
    }

    static Repository reopen(Repository repo) throws IOException {
        return Repository.open(repo.store(), repo.config().encrypted() ? fastKey() : null);
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    /**
     * Test data mixing repeated random segments (dedup within one run), compressible text and zero runs:
     * {@code segments} segments of {@code segmentSize} bytes drawn from a pool of a few distinct ones.
     */
    static byte[] mixedData(int segments, int segmentSize, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int pool = Math.max(2, segments / 3);
        byte[][] randomSegments = new byte[pool][];
        for (int i = 0; i < pool; i++) {
            randomSegments[i] = random(segmentSize, seed * 1000 + i);
        }
        byte[] text = ("tuple " + seed + " lorem ipsum dolor sit amet; ")
                .repeat(segmentSize / 20 + 1)
                .getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[segments * segmentSize];
        for (int s = 0; s < segments; s++) {
            int kind = r.nextInt(10);
            byte[] src = kind < 7 ? randomSegments[r.nextInt(pool)] : kind < 9 ? text : new byte[segmentSize];
            System.arraycopy(src, 0, out, s * segmentSize, segmentSize);
        }
        return out;
    }

    /** Cut lengths for the data with the given chunker, in order. */
    static List<int[]> cuts(byte[] data, Chunker chunker) {
        List<int[]> out = new ArrayList<>();
        int off = 0;
        while (off < data.length) {
            int len = data.length - off;
            int cut = chunker.nextCut(data, off, len, len < chunker.maxSize());
            out.add(new int[] {off, cut});
            off += cut;
        }
        return out;
    }

    /**
     * Stores the data's chunks through a ChunkWriter, split across {@code threads} sessions on their own threads
     * (thread t stores the t-th contiguous share), and returns the hex ids in data order. Does not call finish().
     */
    static List<String> storeChunks(ChunkWriter writer, byte[] data, List<int[]> cuts, int threads) throws Exception {
        String[] ids = new String[cuts.size()];
        IntFunction<Integer> from = t -> (int) ((long) cuts.size() * t / threads);
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int lo = from.apply(t);
                int hi = from.apply(t + 1);
                fs.add(pool.submit(() -> {
                    try (ChunkWriter.Session s = writer.session()) {
                        for (int i = lo; i < hi; i++) {
                            int[] c = cuts.get(i);
                            ids[i] = s.store(data, c[0], c[1]).hex();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
        }
        return List.of(ids);
    }

    static Snapshot.FileEntry fileEntry(String path, byte[] content, List<String> chunks) throws Exception {
        return new Snapshot.FileEntry(
                path,
                Snapshot.Kind.FILE,
                0600,
                "postgres",
                "postgres",
                1_700_000_000_000L,
                content.length,
                ContentDigest.of(chunks.stream().map(ChunkId::parse).toList()),
                chunks,
                null);
    }

    static Snapshot snapshot(String id, List<Snapshot.FileEntry> files) {
        Instant now = Instant.parse("2025-01-15T10:00:00Z");
        List<Snapshot.FileEntry> all = new ArrayList<>();
        all.add(new Snapshot.FileEntry(
                "base", Snapshot.Kind.DIRECTORY, 0700, "postgres", "postgres", 0, 0, null, null, null));
        all.addAll(files);
        return new Snapshot(
                id,
                "full",
                "postgresql",
                null,
                now,
                now.plusSeconds(5),
                "testhost",
                "/pgdata",
                Compression.LOW.label(),
                PostgresBackupInfo.fromLegacy(Map.of("pgVersion", "17")),
                List.of(),
                all,
                new Snapshot.Stats(0, 0, 0, files.size(), 0, 0, 5.0));
    }

    static List<String> keys(BlobStore store, String prefix) throws IOException {
        return store.list(prefix).stream().map(BlobInfo::key).toList();
    }

    static String sha256Hex(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    static byte[] concat(List<byte[]> parts) {
        int n = parts.stream().mapToInt(p -> p.length).sum();
        byte[] out = new byte[n];
        int off = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, off, p.length);
            off += p.length;
        }
        return out;
    }
}
