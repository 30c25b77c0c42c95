package dev.lifeboat.repository;

import java.nio.ByteBuffer;
import java.util.HexFormat;

/** A 256-bit keyed chunk id held as four longs: compact and cheap to hash in large in-memory indexes. */
public record ChunkId(long a, long b, long c, long d) {
    public static final int BYTES = 32;

    public static ChunkId of(byte[] bytes) {
        return read(ByteBuffer.wrap(bytes));
    }

    public static ChunkId read(ByteBuffer buf) {
        return new ChunkId(buf.getLong(), buf.getLong(), buf.getLong(), buf.getLong());
    }

    public static ChunkId parse(String hex) {
        return of(HexFormat.of().parseHex(hex));
    }

    public void write(ByteBuffer buf) {
        buf.putLong(a).putLong(b).putLong(c).putLong(d);
    }

    public byte[] bytes() {
        ByteBuffer buf = ByteBuffer.allocate(BYTES);
        write(buf);
        return buf.array();
    }

    public String hex() {
        return HexFormat.of().formatHex(bytes());
    }

    @Override
    public String toString() {
        return hex().substring(0, 16);
    }
}
