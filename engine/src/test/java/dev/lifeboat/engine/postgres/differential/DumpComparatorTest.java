package dev.lifeboat.engine.postgres.differential;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dump comparison flags what matters and tolerates exactly what PostgreSQL legitimately does. */
class DumpComparatorTest {
    @TempDir
    Path tmp;

    private static final String HEAD = """
            --
            -- PostgreSQL database dump
            --
            \\restrict %s

            --
            -- Name: t; Type: TABLE; Schema: public; Owner: postgres
            --

            CREATE TABLE public.t (id integer);

            --
            -- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: postgres
            --

            COPY public.t (id) FROM stdin;
            %s\\.

            --
            -- Name: s; Type: SEQUENCE SET; Schema: public; Owner: postgres
            --

            SELECT pg_catalog.setval('public.s', %s);

            \\unrestrict %s
            """;

    private List<ClusterComparator.Finding> compare(String rowsA, String seqA, String rowsB, String seqB, long inc)
            throws Exception {
        Path a = tmp.resolve("a.sql");
        Path b = tmp.resolve("b.sql");
        Files.writeString(a, HEAD.formatted("keyA", rowsA, seqA, "keyA"));
        Files.writeString(b, HEAD.formatted("keyB", rowsB, seqB, "keyB"));
        return DumpComparator.compare("db", a, b, Map.of("public.s", new DumpComparator.SequenceInfo(inc, 1)));
    }

    @Test
    void equalDumpsWithDifferentRestrictKeysAgree() throws Exception {
        assertThat(compare("1\n2\n", "40, true", "1\n2\n", "40, true", 1)).isEmpty();
    }

    @Test
    void sequenceAheadByWhatNextvalLogsIsTolerated() throws Exception {
        assertThat(compare("1\n", "40, true", "1\n", "72, true", 1)).isEmpty();
        assertThat(compare("1\n", "1, false", "1\n", "33, true", 1)).isEmpty();
        assertThat(compare("1\n", "40, true", "1\n", "360, true", 10)).isEmpty();
    }

    @Test
    void sequenceBehindOrTooFarAheadIsAFinding() throws Exception {
        assertThat(compare("1\n", "40, true", "1\n", "39, true", 1))
                .singleElement()
                .satisfies(f -> assertThat(f.toString()).contains("public.s", "behind"));
        assertThat(compare("1\n", "40, true", "1\n", "40, false", 1))
                .singleElement()
                .satisfies(f -> assertThat(f.toString()).contains("behind"));
        assertThat(compare("1\n", "40, true", "1\n", "74, true", 1))
                .singleElement()
                .satisfies(f -> assertThat(f.toString()).contains("too far ahead"));
    }

    @Test
    void missingAndExtraRowsAreNamedWithTheirTable() throws Exception {
        var f = compare("1\n2\n3\n", "40, true", "1\n3\n4\n5\n", "40, true", 1);
        assertThat(f).singleElement().satisfies(x -> {
            assertThat(x.relation()).isEqualTo("public.t");
            assertThat(x.detail())
                    .contains(
                            "source has 3 rows, restore 4",
                            "1 rows only in the source, e.g. '2'",
                            "2 rows only in the restore");
        });
    }

    @Test
    void sameRowsInAnotherPhysicalOrderAreAFinding() throws Exception {
        assertThat(compare("1\n2\n", "40, true", "2\n1\n", "40, true", 1))
                .singleElement()
                .satisfies(x -> assertThat(x.detail()).contains("different physical order"));
    }
}
