package dev.lifeboat.engine.postgres;

/** PostgreSQL log sequence numbers and WAL segment names. */
public final class Lsn {
    private Lsn() {}

    public static long parse(String s) {
        int slash = s.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("not an LSN: " + s);
        }
        return (Long.parseLong(s.substring(0, slash), 16) << 32) | Long.parseLong(s.substring(slash + 1), 16);
    }

    public static String format(long lsn) {
        return String.format("%X/%X", lsn >>> 32, lsn & 0xffffffffL);
    }

    public static String segmentName(int timeline, long segmentNumber, long segmentSize) {
        long perId = 0x1_0000_0000L / segmentSize;
        return String.format("%08X%08X%08X", timeline, segmentNumber / perId, segmentNumber % perId);
    }

    public static long segmentOf(long lsn, long segmentSize) {
        return lsn / segmentSize;
    }
}
