package dev.lifeboat.engine.postgres.differential;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Compares two plain-format pg_dump files of one database, section by section (pg_dump's "-- Name: …" headers), and
 * says what differs in terms an engineer can act on: a table's rows only on one side, a schema line, a large object.
 * The one tolerated difference is a sequence restored ahead of its source, by at most what PostgreSQL logs ahead.
 */
final class DumpComparator {
    /** PostgreSQL's SEQ_LOG_VALS: nextval WAL-logs this many values beyond the one it returns. */
    static final long SEQ_LOG_VALS = 32;

    private static final Pattern SETVAL =
            Pattern.compile("SELECT pg_catalog\\.setval\\('(.+)', (-?\\d+), (true|false)\\);");
    private static final int EXAMPLES = 5;
    private static final int MAX_LINE = 240;

    /** A sequence's increment and cache size on the source (from pg_sequences), keyed as pg_dump names it. */
    record SequenceInfo(long increment, long cache) {}

    private record Section(String key, List<String> lines) {
        String copyHeader() {
            return lines.stream().filter(l -> l.startsWith("COPY ")).findFirst().orElse(null);
        }
    }

    private DumpComparator() {}

    /** Findings (empty when the dumps agree). */
    static List<ClusterComparator.Finding> compare(
            String db, Path source, Path restored, Map<String, SequenceInfo> sequences) throws IOException {
        List<String> a = read(source);
        List<String> b = read(restored);
        List<ClusterComparator.Finding> out = new ArrayList<>();
        if (a.equals(b)) {
            return out;
        }
        Map<String, Section> sa = sections(a);
        Map<String, Section> sb = sections(b);
        boolean sectionsDiffer = !sa.keySet().equals(sb.keySet());
        for (Section s : sa.values()) {
            Section r = sb.get(s.key());
            if (r == null) {
                out.add(finding(db, s, "section missing from the restore's dump: " + s.key() + first(s.lines())));
            } else if (!r.lines().equals(s.lines())) {
                sectionsDiffer = true; // possibly only in a tolerated way (a sequence ahead)
                out.addAll(compareSection(db, s, r, sequences));
            }
        }
        for (Section r : sb.values()) {
            if (!sa.containsKey(r.key())) {
                out.add(finding(db, r, "section only in the restore's dump: " + r.key() + first(r.lines())));
            }
        }
        if (!sectionsDiffer) {
            // same sections, same contents, different order: say where
            for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
                if (!a.get(i).equals(b.get(i))) {
                    out.add(new ClusterComparator.Finding(
                            db,
                            null,
                            "pg_dump",
                            "dumps differ in order at line " + (i + 1) + ": source " + clip(a.get(i)) + " / restore "
                                    + clip(b.get(i))));
                    break;
                }
            }
        }
        return out;
    }

    /**
     * The dump's lines. pg_dump (15.14 and later) fences its output with psql's restrict and unrestrict commands and a
     * random key, new on every run: the key is blanked.
     */
    static List<String> read(Path dump) throws IOException {
        List<String> lines = Files.readAllLines(dump, StandardCharsets.UTF_8);
        lines.replaceAll(l -> l.startsWith("\\restrict ")
                ? "\\restrict KEY"
                : l.startsWith("\\unrestrict ") ? "\\unrestrict KEY" : l);
        return lines;
    }

    private static List<ClusterComparator.Finding> compareSection(
            String db, Section s, Section r, Map<String, SequenceInfo> sequences) {
        List<ClusterComparator.Finding> out = new ArrayList<>();
        String copy = s.copyHeader();
        if (copy != null && copy.equals(r.copyHeader())) {
            Map<String, Integer> rows = new HashMap<>();
            List<String> aRows = dataRows(s.lines());
            List<String> bRows = dataRows(r.lines());
            aRows.forEach(l -> rows.merge(l, 1, Integer::sum));
            bRows.forEach(l -> rows.merge(l, -1, Integer::sum));
            List<String> onlySource = new ArrayList<>();
            List<String> onlyRestore = new ArrayList<>();
            long nSource = 0;
            long nRestore = 0;
            for (var e : rows.entrySet()) {
                if (e.getValue() > 0) {
                    nSource += e.getValue();
                    if (onlySource.size() < EXAMPLES) {
                        onlySource.add(clip(e.getKey()));
                    }
                } else if (e.getValue() < 0) {
                    nRestore -= e.getValue();
                    if (onlyRestore.size() < EXAMPLES) {
                        onlyRestore.add(clip(e.getKey()));
                    }
                }
            }
            String table = copy.substring(5, copy.indexOf(' ', 5));
            if (nSource == 0 && nRestore == 0) {
                out.add(new ClusterComparator.Finding(
                        db,
                        table,
                        "pg_dump",
                        "same rows in a different physical order (" + aRows.size()
                                + " rows): the restored heap is not the source's"));
            } else {
                out.add(new ClusterComparator.Finding(
                        db,
                        table,
                        "pg_dump",
                        "table data differs: source has " + aRows.size()
                                + " rows, restore " + bRows.size() + "; " + nSource + " rows only in the source"
                                + examples(onlySource)
                                + "; " + nRestore + " rows only in the restore" + examples(onlyRestore)));
            }
            return out;
        }
        if (s.lines().size() == r.lines().size()) {
            for (int i = 0; i < s.lines().size(); i++) {
                String x = s.lines().get(i);
                String y = r.lines().get(i);
                if (x.equals(y)) {
                    continue;
                }
                Matcher mx = SETVAL.matcher(x);
                Matcher my = SETVAL.matcher(y);
                if (mx.matches() && my.matches() && mx.group(1).equals(my.group(1))) {
                    String problem = sequenceProblem(mx, my, sequences.get(mx.group(1)));
                    if (problem != null) {
                        out.add(new ClusterComparator.Finding(db, mx.group(1), "sequence", problem));
                    }
                    continue;
                }
                out.add(finding(
                        db,
                        s,
                        "line " + (i + 1) + " of section '" + s.key() + "' differs: source " + clip(x) + " / restore "
                                + clip(y)));
                return out;
            }
            return out;
        }
        int i = 0;
        while (i < s.lines().size()
                && i < r.lines().size()
                && s.lines().get(i).equals(r.lines().get(i))) {
            i++;
        }
        out.add(finding(
                db,
                s,
                "section '" + s.key() + "' has " + s.lines().size() + " lines in the source, "
                        + r.lines().size() + " in the restore; first difference at its line " + (i + 1) + ": source "
                        + (i < s.lines().size() ? clip(s.lines().get(i)) : "(end)") + " / restore "
                        + (i < r.lines().size() ? clip(r.lines().get(i)) : "(end)")));
        return out;
    }

    /**
     * The restore may hand out values the source has not yet (nextval logs {@link #SEQ_LOG_VALS} ahead, and replaying
     * that record sets the sequence there), never fewer: a sequence behind its source gives out duplicates.
     */
    static String sequenceProblem(Matcher source, Matcher restored, SequenceInfo info) {
        long inc = info == null ? 1 : info.increment();
        long cache = info == null ? 1 : info.cache();
        long vs = Long.parseLong(source.group(2));
        long vr = Long.parseLong(restored.group(2));
        // the next value each would return
        long nextS = source.group(3).equals("true") ? vs + inc : vs;
        long nextR = restored.group(3).equals("true") ? vr + inc : vr;
        long ahead = (nextR - nextS) / inc;
        if ((nextR - nextS) % inc != 0 || ahead < 0 || ahead > SEQ_LOG_VALS + cache) {
            return "restored sequence is " + (ahead < 0 ? "behind" : "too far ahead of") + " the source: source setval("
                    + vs + ", " + source.group(3) + "), restore setval(" + vr + ", " + restored.group(3)
                    + "), increment " + inc
                    + ", cache " + cache + " (allowed: the same next value or up to " + (SEQ_LOG_VALS + cache)
                    + " increments ahead)";
        }
        return null;
    }

    private static List<String> dataRows(List<String> lines) {
        List<String> out = new ArrayList<>();
        boolean in = false;
        for (String l : lines) {
            if (l.startsWith("COPY ")) {
                in = true;
            } else if (l.equals("\\.")) {
                in = false;
            } else if (in) {
                out.add(l);
            }
        }
        return out;
    }

    private static Map<String, Section> sections(List<String> lines) {
        Map<String, Section> out = new LinkedHashMap<>();
        String key = "(preamble)";
        List<String> cur = new ArrayList<>();
        for (String l : lines) {
            if (l.startsWith("-- Name: ") || l.startsWith("-- Data for Name: ")) {
                put(out, key, cur);
                key = l.substring(3);
                cur = new ArrayList<>();
            }
            cur.add(l);
        }
        put(out, key, cur);
        return out;
    }

    private static void put(Map<String, Section> out, String key, List<String> lines) {
        String k = key;
        for (int n = 2; out.containsKey(k); n++) {
            k = key + " #" + n;
        }
        out.put(k, new Section(k, lines));
    }

    private static ClusterComparator.Finding finding(String db, Section s, String detail) {
        String rel = null;
        Matcher m = Pattern.compile("Name: ([^;]+); Type: ([^;]+); Schema: ([^;]+);")
                .matcher(s.key());
        if (m.find()) {
            rel = (m.group(3).equals("-") ? "" : m.group(3) + ".") + m.group(1) + " (" + m.group(2) + ")";
        }
        return new ClusterComparator.Finding(db, rel, "pg_dump", detail);
    }

    private static String first(List<String> lines) {
        return lines.stream()
                .filter(l -> !l.isBlank() && !l.startsWith("--"))
                .findFirst()
                .map(l -> " (" + clip(l) + ")")
                .orElse("");
    }

    private static String examples(List<String> rows) {
        return rows.isEmpty() ? "" : ", e.g. " + String.join(" ; ", rows);
    }

    static String clip(String s) {
        return s.length() <= MAX_LINE
                ? "'" + s + "'"
                : "'" + s.substring(0, MAX_LINE) + "…' (" + s.length() + " chars)";
    }
}
