package dev.lifeboat.engine.postgres.walsummary;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * Walks the WAL records of an LSN range of one timeline and decodes their block references, as PostgreSQL 15's
 * {@code XLogReadRecord} and {@code DecodeXLogRecord} (xlogreader.c) do: records are followed from a known record
 * start, across page headers, each page's address is checked and each record's CRC-32C is verified. Anything
 * unexpected throws {@link BadWal}; callers then fall back to reading files (the summary is an optimisation only).
 */
final class WalRecordReader {
    static final int PAGE = 8192; // XLOG_BLCKSZ
    static final int SHORT_PAGE_HEADER = 24; // SizeOfXLogShortPHD
    static final int LONG_PAGE_HEADER = 40; // SizeOfXLogLongPHD
    static final int RECORD_HEADER = 24; // SizeOfXLogRecord
    private static final int XLP_FIRST_IS_CONTRECORD = 0x0001;
    private static final int XLP_LONG_HEADER = 0x0002;
    private static final int MAX_RECORD = 1020 * 1024 * 1024; // XLogRecordMaxSize
    static final int RM_XLOG = 0;
    private static final int XLOG_SWITCH = 0x40;

    /** WAL that is not what it should be (torn, recycled, overwritten, or from another place). */
    static final class BadWal extends IOException {
        final long segment;

        BadWal(long segment, String message) {
            super(message);
            this.segment = segment;
        }
    }

    /** Where segment images come from (e.g. pg_wal, then the archive); null when a segment is nowhere. */
    interface Segments {
        byte[] segment(long segmentNumber) throws IOException;
    }

    /** One decoded record; reused from record to record. */
    static final class Record {
        long lsn;
        int rmid;
        int info; // xl_info without the XLR_INFO_MASK bits
        boolean specialRelUpdate; // XLR_SPECIAL_REL_UPDATE: the record changes relation files in a way of its own
        int blocks;
        final int[] spc = new int[XLR_MAX_BLOCK_ID + 1];
        final int[] db = new int[XLR_MAX_BLOCK_ID + 1];
        final int[] rel = new int[XLR_MAX_BLOCK_ID + 1];
        final int[] fork = new int[XLR_MAX_BLOCK_ID + 1];
        final int[] block = new int[XLR_MAX_BLOCK_ID + 1];
        ByteBuffer main; // the record's main data, little-endian, positioned at its start

        /** Unsigned 32-bit value of the main data at {@code offset}. */
        long mainU32(int offset) {
            return Integer.toUnsignedLong(main.getInt(offset));
        }

        int mainLength() {
            return main.remaining();
        }
    }

    interface Visitor {
        void visit(Record r) throws IOException;
    }

    static final int XLR_MAX_BLOCK_ID = 32;
    private static final int XLR_BLOCK_ID_DATA_SHORT = 255;
    private static final int XLR_BLOCK_ID_DATA_LONG = 254;
    private static final int XLR_BLOCK_ID_ORIGIN = 253;
    private static final int XLR_BLOCK_ID_TOPLEVEL_XID = 252;
    private static final int BKPBLOCK_FORK_MASK = 0x0F;
    private static final int BKPBLOCK_HAS_IMAGE = 0x10;
    private static final int BKPBLOCK_SAME_REL = 0x80;
    private static final int BKPIMAGE_HAS_HOLE = 0x01;
    private static final int BKPIMAGE_COMPRESSED = 0x04 | 0x08 | 0x10; // PGLZ, LZ4, ZSTD (PostgreSQL 15)

    private final long segmentSize;
    private final Segments segments;
    private long loadedSegment = -1;
    private byte[] image;
    private byte[] rec = new byte[64 * 1024];
    private final Record out = new Record();
    private final CRC32C crc = new CRC32C();
    private long pos; // the LSN of the next byte to read; never inside a page header
    private long bytesRead;

    WalRecordReader(long segmentSize, Segments segments) {
        this.segmentSize = segmentSize;
        this.segments = segments;
    }

    /** The WAL bytes the walk went through. */
    long bytesRead() {
        return bytesRead;
    }

    /**
     * Visits every record that starts in [{@code start}, {@code end}); {@code start} must be a record's start (a
     * checkpoint's redo pointer is).
     */
    void walk(long start, long end, Visitor visitor) throws IOException {
        if (start % 8 != 0 || start % PAGE < SHORT_PAGE_HEADER) {
            throw new BadWal(start / segmentSize, "no record can start at " + hex(start));
        }
        pos = start;
        while (pos < end) {
            long lsn = pos;
            readRecord(lsn);
            decode(lsn, visitor);
            if (out.rmid == RM_XLOG && out.info == XLOG_SWITCH) {
                // the rest of the segment the switch record ends in is unused: the next record starts on the next
                // segment's first page (the record itself may have crossed into a new segment)
                long next = (pos + segmentSize - 1) / segmentSize * segmentSize;
                pos = next < end ? next + checkPageHeader(next, false, false, 0) : next;
            }
        }
    }

    /** Reads the record at {@code lsn} into {@link #rec}, checking its CRC; leaves {@link #pos} at the next record. */
    private void readRecord(long lsn) throws IOException {
        readStream(rec, 0, RECORD_HEADER, false);
        ByteBuffer h = ByteBuffer.wrap(rec, 0, RECORD_HEADER).order(ByteOrder.LITTLE_ENDIAN);
        long total = Integer.toUnsignedLong(h.getInt(0));
        if (total < RECORD_HEADER || total > MAX_RECORD) {
            throw new BadWal(lsn / segmentSize, "record at " + hex(lsn) + " has an invalid length " + total);
        }
        if (rec.length < total) {
            byte[] bigger = new byte[(int) Math.max(total, rec.length * 2L)];
            System.arraycopy(rec, 0, bigger, 0, RECORD_HEADER);
            rec = bigger;
        }
        readStream(rec, RECORD_HEADER, (int) total - RECORD_HEADER, true);
        // CRC-32C of the data after the header, then of the header up to xl_crc (XLogRecordAssemble)
        crc.reset();
        crc.update(rec, RECORD_HEADER, (int) total - RECORD_HEADER);
        crc.update(rec, 0, 20);
        int stored = ByteBuffer.wrap(rec, 20, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        if ((int) crc.getValue() != stored) {
            throw new BadWal(lsn / segmentSize, "record at " + hex(lsn) + " fails its CRC");
        }
        pos = (pos + 7) & ~7L; // MAXALIGN
        bytesRead += total;
    }

    /**
     * Copies {@code n} bytes of record data from {@link #pos}, stepping over page headers; {@code continuation} is
     * true when the bytes continue a record begun earlier (a page starting inside them must say so).
     */
    private void readStream(byte[] dst, int off, int n, boolean continuation) throws IOException {
        while (n > 0) {
            int inPage = (int) (pos % PAGE);
            if (inPage == 0) {
                pos += checkPageHeader(pos, continuation || off > 0, continuation, n);
                inPage = (int) (pos % PAGE);
            }
            long seg = pos / segmentSize;
            load(seg);
            int take = Math.min(n, PAGE - inPage);
            System.arraycopy(image, (int) (pos % segmentSize), dst, off, take);
            pos += take;
            off += take;
            n -= take;
        }
    }

    /**
     * Checks the header of the page starting at {@code page}; returns its size. Inside a record the page must say
     * how much of the record is left: exactly {@code remaining} while reading its body, at least that while the
     * record's header was split.
     */
    private int checkPageHeader(long page, boolean insideRecord, boolean exact, int remaining) throws IOException {
        long seg = page / segmentSize;
        load(seg);
        ByteBuffer b = ByteBuffer.wrap(image, (int) (page % segmentSize), LONG_PAGE_HEADER)
                .order(ByteOrder.LITTLE_ENDIAN);
        int base = (int) (page % segmentSize);
        int info = Short.toUnsignedInt(b.getShort(base + 2));
        long address = b.getLong(base + 8);
        long remLen = Integer.toUnsignedLong(b.getInt(base + 16));
        if (address != page) {
            throw new BadWal(seg, "the page at " + hex(page) + " holds WAL of " + hex(address));
        }
        boolean first = page % segmentSize == 0;
        if (first != ((info & XLP_LONG_HEADER) != 0)) {
            throw new BadWal(seg, "the page at " + hex(page) + " has the wrong header kind");
        }
        if (insideRecord) {
            if ((info & XLP_FIRST_IS_CONTRECORD) == 0 || (exact ? remLen != remaining : remLen < remaining)) {
                throw new BadWal(seg, "the page at " + hex(page) + " does not continue the record before it");
            }
        } else if ((info & XLP_FIRST_IS_CONTRECORD) != 0) {
            throw new BadWal(seg, "the page at " + hex(page) + " continues a record where a new one should start");
        }
        return first ? LONG_PAGE_HEADER : SHORT_PAGE_HEADER;
    }

    private void load(long seg) throws IOException {
        if (seg == loadedSegment) {
            return;
        }
        byte[] img = segments.segment(seg);
        if (img == null) {
            throw new BadWal(seg, "WAL segment " + seg + " is neither in pg_wal nor in the archive");
        }
        if (img.length != segmentSize) {
            throw new BadWal(seg, "WAL segment " + seg + " has " + img.length + " bytes, not " + segmentSize);
        }
        image = img;
        loadedSegment = seg;
    }

    /** Decodes the headers of the record in {@link #rec} (DecodeXLogRecord) and hands it to the visitor. */
    private void decode(long lsn, Visitor visitor) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(rec).order(ByteOrder.LITTLE_ENDIAN);
        int total = b.getInt(0);
        out.lsn = lsn;
        out.info = Byte.toUnsignedInt(b.get(16)) & 0xF0;
        out.specialRelUpdate = (b.get(16) & 0x01) != 0;
        out.rmid = Byte.toUnsignedInt(b.get(17));
        out.blocks = 0;
        int p = RECORD_HEADER;
        long dataTotal = 0;
        int mainLength = 0;
        boolean haveRel = false;
        int spc = 0;
        int db = 0;
        int rel = 0;
        try {
            while (total - p > dataTotal) {
                int id = Byte.toUnsignedInt(b.get(p++));
                if (id == XLR_BLOCK_ID_DATA_SHORT) {
                    mainLength = Byte.toUnsignedInt(b.get(p++));
                    dataTotal += mainLength;
                    break;
                } else if (id == XLR_BLOCK_ID_DATA_LONG) {
                    mainLength = b.getInt(p);
                    p += 4;
                    dataTotal += Integer.toUnsignedLong(mainLength);
                    break;
                } else if (id == XLR_BLOCK_ID_ORIGIN) {
                    p += 2;
                } else if (id == XLR_BLOCK_ID_TOPLEVEL_XID) {
                    p += 4;
                } else if (id <= XLR_MAX_BLOCK_ID) {
                    int forkFlags = Byte.toUnsignedInt(b.get(p++));
                    dataTotal += Short.toUnsignedInt(b.getShort(p));
                    p += 2;
                    if ((forkFlags & BKPBLOCK_HAS_IMAGE) != 0) {
                        int imageLength = Short.toUnsignedInt(b.getShort(p));
                        int imageInfo = Byte.toUnsignedInt(b.get(p + 4));
                        p += 5;
                        if ((imageInfo & BKPIMAGE_HAS_HOLE) != 0 && (imageInfo & BKPIMAGE_COMPRESSED) != 0) {
                            p += 2; // XLogRecordBlockCompressHeader
                        }
                        dataTotal += imageLength;
                    }
                    if ((forkFlags & BKPBLOCK_SAME_REL) == 0) {
                        spc = b.getInt(p);
                        db = b.getInt(p + 4);
                        rel = b.getInt(p + 8);
                        p += 12;
                        haveRel = true;
                    } else if (!haveRel) {
                        throw new BadWal(lsn / segmentSize, "record at " + hex(lsn) + " has BKPBLOCK_SAME_REL first");
                    }
                    int k = out.blocks++;
                    out.spc[k] = spc;
                    out.db[k] = db;
                    out.rel[k] = rel;
                    out.fork[k] = forkFlags & BKPBLOCK_FORK_MASK;
                    out.block[k] = b.getInt(p);
                    p += 4;
                } else {
                    throw new BadWal(lsn / segmentSize, "record at " + hex(lsn) + " has block id " + id);
                }
            }
        } catch (IndexOutOfBoundsException e) {
            throw new BadWal(lsn / segmentSize, "record at " + hex(lsn) + " has headers beyond its length");
        }
        if (p + dataTotal != total) {
            throw new BadWal(lsn / segmentSize, "record at " + hex(lsn) + " has data lengths that do not add up");
        }
        // block data and images come first, in block order; the main data is last
        out.main = ByteBuffer.wrap(rec, total - mainLength, mainLength).slice().order(ByteOrder.LITTLE_ENDIAN);
        visitor.visit(out);
    }

    static String hex(long lsn) {
        return String.format("%X/%X", lsn >>> 32, lsn & 0xffffffffL);
    }
}
