package dev.lifeboat.repository.compress;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import java.util.Locale;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * Chunk compression. The user-facing levels map to zstd levels chosen from measurements on this machine kind
 * (MB/s per core on PostgreSQL pages, realistic table): zstd-1 ≈470, zstd-3 ≈290, zstd-9 ≈74; lz4 ≈820.
 * Each stored chunk starts with its codec byte, so a repository can mix levels across backups.
 */
public enum Compression {
    NONE((byte) 0, 0),
    LZ4((byte) 1, 0),
    LOW((byte) 2, 1),
    MEDIUM((byte) 2, 3),
    HIGH((byte) 2, 9);

    public static final byte CODEC_NONE = 0;
    public static final byte CODEC_LZ4 = 1;
    public static final byte CODEC_ZSTD = 2;
    static final int PARALLEL_MIN_BYTES = 8 << 20;
    static final int PARALLEL_JOB_BYTES = 4 << 20;

    private static final LZ4Factory LZ4_FACTORY = LZ4Factory.fastestInstance();
    private static final LZ4Compressor LZ4_COMPRESSOR = LZ4_FACTORY.fastCompressor();
    // the safe decompressor: lz4-java's fastDecompressor() hands out its pure-Java decoder even where the native
    // library is loaded (about 5x slower), and the safe one also never reads past the compressed bytes it is given
    private static final LZ4SafeDecompressor LZ4_DECOMPRESSOR = LZ4_FACTORY.safeDecompressor();

    private static final ThreadLocal<ZstdCompressCtx[]> ZSTD_CTX =
            ThreadLocal.withInitial(() -> new ZstdCompressCtx[23]);
    private static final ThreadLocal<ZstdDecompressCtx> ZSTD_DCTX = ThreadLocal.withInitial(ZstdDecompressCtx::new);

    private final byte codec;
    private final int zstdLevel;

    Compression(byte codec, int zstdLevel) {
        this.codec = codec;
        this.zstdLevel = zstdLevel;
    }

    public static Compression parse(String s) {
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "unknown compression '" + s + "'; use one of none, low, medium, high, lz4");
        }
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    public String describe() {
        return switch (this) {
            case NONE -> "none";
            case LZ4 -> "lz4";
            default -> "zstd-" + zstdLevel;
        };
    }

    /** Upper bound of {@link #compress}'s output for {@code len} input bytes (codec byte included). */
    public int maxCompressedLength(int len) {
        return 1
                + switch (codec) {
                    case CODEC_LZ4 -> LZ4_COMPRESSOR.maxCompressedLength(len);
                    case CODEC_ZSTD -> (int) Zstd.compressBound(len);
                    default -> len;
                };
    }

    /**
     * Writes {@code codec byte || payload} into {@code out} at {@code outOff} and returns its length.
     * Falls back to storing the bytes as they are when compression would not make them smaller.
     */
    public int compress(byte[] in, int off, int len, byte[] out, int outOff) {
        int n = -1;
        if (codec == CODEC_LZ4) {
            n = LZ4_COMPRESSOR.compress(in, off, len, out, outOff + 1, out.length - outOff - 1);
        } else if (codec == CODEC_ZSTD) {
            // one context per thread and level: building a context per 128 KiB block costs more than compressing it
            ZstdCompressCtx ctx = ZSTD_CTX.get()[zstdLevel];
            if (ctx == null) {
                ctx = new ZstdCompressCtx().setLevel(zstdLevel);
                ZSTD_CTX.get()[zstdLevel] = ctx;
            }
            n = ctx.compressByteArray(out, outOff + 1, out.length - outOff - 1, in, off, len);
        }
        if (n >= 0 && n < len) {
            out[outOff] = codec;
            return n + 1;
        }
        out[outOff] = CODEC_NONE;
        System.arraycopy(in, off, out, outOff + 1, len);
        return len + 1;
    }

    /** Reverses {@link #compress}: reads the codec byte and returns exactly {@code rawLength} bytes. */
    public static byte[] decompress(byte[] in, int off, int len, int rawLength) {
        if (len < 1) {
            throw new IllegalArgumentException("empty compressed chunk");
        }
        byte c = in[off];
        byte[] out = new byte[rawLength];
        switch (c) {
            case CODEC_NONE -> {
                if (len - 1 != rawLength) {
                    throw new IllegalArgumentException(
                            "stored chunk has " + (len - 1) + " bytes, expected " + rawLength);
                }
                System.arraycopy(in, off + 1, out, 0, rawLength);
            }
            case CODEC_LZ4 -> {
                int read;
                try {
                    read = LZ4_DECOMPRESSOR.decompress(in, off + 1, len - 1, out, 0, rawLength);
                } catch (LZ4Exception e) {
                    throw new IllegalArgumentException("lz4 chunk is corrupt: " + e.getMessage());
                }
                if (read != rawLength) {
                    throw new IllegalArgumentException("lz4 chunk length mismatch");
                }
            }
            case CODEC_ZSTD -> {
                long r;
                try {
                    r = ZSTD_DCTX.get().decompressByteArray(out, 0, rawLength, in, off + 1, len - 1);
                } catch (ZstdException e) {
                    throw new IllegalArgumentException("zstd chunk is corrupt: " + e.getMessage());
                }
                if (Zstd.isError(r) || r != rawLength) {
                    throw new IllegalArgumentException(
                            "zstd chunk is corrupt: " + (Zstd.isError(r) ? Zstd.getErrorName(r) : r + " bytes"));
                }
            }
            default -> throw new IllegalArgumentException("unknown compression codec " + c);
        }
        return out;
    }

    /**
     * One zstd frame of {@code data}. Inputs of {@link #PARALLEL_MIN_BYTES} or more (whole WAL segments, which a
     * synchronous archive_command waits for) are compressed by two worker threads in {@link #PARALLEL_JOB_BYTES} jobs:
     * 33 → 24 ms per 16 MiB segment of pgbench WAL on two cores; the frame is one frame like any other.
     */
    public static byte[] zstd(byte[] data, int level) {
        if (data.length < PARALLEL_MIN_BYTES) {
            return Zstd.compress(data, level);
        }
        try (ZstdCompressCtx ctx = new ZstdCompressCtx()) {
            return ctx.setLevel(level)
                    .setWorkers(2)
                    .setJobSize(PARALLEL_JOB_BYTES)
                    .compress(data);
        }
    }

    public static byte[] unzstd(byte[] data) {
        try {
            long size = Zstd.getFrameContentSize(data);
            if (size < 0 || size > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("zstd frame without a valid content size");
            }
            byte[] out = Zstd.decompress(data, (int) size);
            if (out.length != size) {
                throw new IllegalArgumentException("zstd frame is truncated");
            }
            return out;
        } catch (ZstdException e) {
            throw new IllegalArgumentException("zstd frame is damaged: " + e.getMessage());
        }
    }
}
