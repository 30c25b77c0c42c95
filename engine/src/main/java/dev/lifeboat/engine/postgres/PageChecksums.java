package dev.lifeboat.engine.postgres;

import dev.lifeboat.repository.FileBackup;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks PostgreSQL data page checksums while a backup reads relation files, as pg_basebackup and pgBackRest do, so a
 * page damaged on disk is reported (file and block) when it is backed up rather than when it is restored.
 * <p>
 * The algorithm is PostgreSQL's (storage/checksum_impl.h): 32 interleaved FNV-1a-style lanes over the page as
 * native-order 32-bit words with {@code pd_checksum} taken as zero, two extra mixing rounds, the lanes folded by
 * XOR, the block number XORed in, reduced to 1..65535.
 * <p>
 * Which pages are judged: a page whose {@code pd_upper} is 0 is new and must be all zeros; a page whose LSN is at or
 * past the backup's start may be written while it is read, and WAL replay rewrites it from a full-page image (the
 * first change after the start checkpoint logs one), so it is skipped; any other page must carry a valid checksum. A
 * failure is read again once from the file before it is reported, since the copy read may have been torn by a
 * concurrent write that moves its LSN past the start.
 */
final class PageChecksums {
    private static final int LANES = 32;
    private static final int FNV_PRIME = 16777619;
    private static final int[] BASE = {
        0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
        0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
        0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
        0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756
    };
    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.nativeOrder());
    private static final VarHandle SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.nativeOrder());
    private static final Pattern SEGMENT = Pattern.compile(".*/\\d+(?:_(?:fsm|vm|init))?(?:\\.(\\d+))?");
    /** At most this many failing blocks are listed per file. */
    private static final int MAX_LISTED = 20;

    private final int pageSize;
    private final long blocksPerSegment;
    private final long startLsn;
    private final Map<String, ConcurrentSkipListSet<Long>> failures = new ConcurrentHashMap<>();
    private final LongAdder pagesChecked = new LongAdder();

    /**
     * @param startLsn pages at or past it are not judged (replay rewrites them)
     */
    PageChecksums(int pageSize, long blocksPerSegment, long startLsn) {
        if (pageSize % (LANES * 4) != 0) {
            throw new IllegalArgumentException("page size " + pageSize + " is not a multiple of " + LANES * 4);
        }
        this.pageSize = pageSize;
        this.blocksPerSegment = blocksPerSegment;
        this.startLsn = startLsn;
    }

    /** PostgreSQL's checksum of the page at {@code off} as block {@code blkno}. */
    static int checksum(byte[] page, int off, int pageSize, long blkno) {
        int[] sums = BASE.clone();
        int words = pageSize / 4;
        for (int w = 0; w < words; w++) {
            int v = w == 2 ? (int) INT.get(page, off + 8) & checksumMask() : (int) INT.get(page, off + w * 4);
            int lane = w % LANES;
            int t = sums[lane] ^ v;
            sums[lane] = t * FNV_PRIME ^ (t >>> 17);
        }
        int result = 0;
        for (int j = 0; j < LANES; j++) {
            for (int round = 0; round < 2; round++) {
                int t = sums[j];
                sums[j] = t * FNV_PRIME ^ (t >>> 17);
            }
            result ^= sums[j];
        }
        result ^= (int) blkno;
        return (int) (Integer.toUnsignedLong(result) % 65535) + 1;
    }

    /** The word at offset 8 holds pd_checksum and pd_flags; the checksum counts as zero. */
    private static int checksumMask() {
        return ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? 0xFFFF0000 : 0x0000FFFF;
    }

    static long pageLsn(byte[] page, int off) {
        // pd_lsn: two native-order uint32 halves, high first
        return ((long) (int) INT.get(page, off) << 32) | ((int) INT.get(page, off + 4) & 0xffffffffL);
    }

    private static boolean allZero(byte[] b, int off, int len) {
        for (int i = off; i < off + len; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    /** True if the page is acceptable: new and zero, changed since the start, or carrying a valid checksum. */
    boolean pageOk(byte[] b, int off, long blkno) {
        int upper = Short.toUnsignedInt((short) SHORT.get(b, off + 14));
        if (upper == 0) {
            return allZero(b, off, pageSize);
        }
        if (Long.compareUnsigned(pageLsn(b, off), startLsn) >= 0) {
            return true;
        }
        return checksum(b, off, pageSize, blkno) == Short.toUnsignedInt((short) SHORT.get(b, off + 8));
    }

    /** A check for one relation file (segment number from its name), for {@link FileBackup}. */
    FileBackup.BlockCheck forFile(Path file, String relPath) {
        Matcher m = SEGMENT.matcher(relPath);
        long segno = m.matches() && m.group(1) != null ? Long.parseLong(m.group(1)) : 0;
        long firstBlock = segno * blocksPerSegment;
        return (data, off, len, fileOffset) -> {
            for (int p = 0; p + pageSize <= len; p += pageSize) {
                pagesChecked.increment();
                long blkno = firstBlock + (fileOffset + p) / pageSize;
                if (!pageOk(data, off + p, blkno) && !rereadOk(file, fileOffset + p, blkno)) {
                    failures.computeIfAbsent(relPath, k -> new ConcurrentSkipListSet<>())
                            .add(blkno - firstBlock);
                }
            }
        };
    }

    private boolean rereadOk(Path file, long offset, long blkno) throws IOException {
        byte[] page = new byte[pageSize];
        ByteBuffer buf = ByteBuffer.wrap(page);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + buf.position()) < 0) {
                    return true; // truncated meanwhile: replay recreates what is needed
                }
            }
        } catch (NoSuchFileException gone) {
            return true;
        }
        return pageOk(page, 0, blkno);
    }

    long pagesChecked() {
        return pagesChecked.sum();
    }

    /** File → failing block numbers within the file (empty when every page checked out). */
    Map<String, List<Long>> failures() {
        Map<String, List<Long>> out = new TreeMap<>();
        failures.forEach((f, blocks) -> out.put(f, new ArrayList<>(blocks)));
        return out;
    }

    /** "base/5/16384: blocks 3, 7; …" for the manifest and messages (at most {@value #MAX_LISTED} blocks per file). */
    String describe() {
        StringBuilder sb = new StringBuilder();
        failures().forEach((f, blocks) -> {
            if (!sb.isEmpty()) {
                sb.append("; ");
            }
            sb.append(f).append(": block").append(blocks.size() == 1 ? " " : "s ");
            List<String> shown =
                    blocks.stream().limit(MAX_LISTED).map(String::valueOf).toList();
            sb.append(String.join(", ", shown))
                    .append(blocks.size() > MAX_LISTED ? " … (" + blocks.size() + " in all)" : "");
        });
        return sb.toString();
    }
}
