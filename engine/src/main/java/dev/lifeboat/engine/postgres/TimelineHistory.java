package dev.lifeboat.engine.postgres;

import java.util.ArrayList;
import java.util.List;

/** A timeline history file: which timelines this one descends from and at which LSN each branched off. */
public record TimelineHistory(int timeline, List<Entry> entries) {
    /** Timeline {@code parent} was left at {@code switchLsn}. */
    public record Entry(int parent, long switchLsn) {}

    public static TimelineHistory parse(int timeline, String content) {
        List<Entry> out = new ArrayList<>();
        for (String line : content.split("\n")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            String[] f = l.split("\\s+");
            out.add(new Entry(Integer.parseInt(f[0]), Lsn.parse(f[1])));
        }
        return new TimelineHistory(timeline, out);
    }

    /** True if WAL at {@code lsn} on timeline {@code tli} is part of this timeline's past. */
    public boolean contains(int tli, long lsn) {
        if (tli == timeline) {
            return true;
        }
        for (Entry e : entries) {
            if (e.parent() == tli) {
                return lsn <= e.switchLsn();
            }
        }
        return false;
    }

    /** The timeline that was current at {@code lsn} on the way to this one. */
    public int timelineAt(long lsn) {
        for (Entry e : entries) {
            if (lsn < e.switchLsn()) {
                return e.parent();
            }
        }
        return timeline;
    }

    public static String fileName(int timeline) {
        return String.format("%08X.history", timeline);
    }
}
