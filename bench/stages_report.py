#!/usr/bin/env python3
"""Turns the JMH JSON of bench/stages.sh into docs/benchmarks-stages.md (MB/s per core for each data-path stage).

Every benchmark declares one operation per MiB of PostgreSQL file data, so a score in ops/s is MiB/s of file data; the
table shows MB/s (10^6 bytes) = MiB/s x 1.048576. Errors are JMH's 99.9 % confidence half-widths.
"""
import argparse
import json
import math
import sys

MB_PER_MIB = 1048576 / 1e6
DATASETS = ["pgbench", "realistic"]
DATASET_TEXT = {
    "pgbench": "`pgbench_accounts` heap after `pgbench -i` (its `filler` column is blank-padded, so it compresses very well)",
    "realistic": "an `orders` table: timestamps, `numeric(12,2)` amounts, md5 text and a status word",
}


def key(bench):
    """(stage id, variant) from a JMH result."""
    name = bench["benchmark"].rsplit(".", 2)
    cls, method = name[-2], name[-1]
    p = bench.get("params", {})
    if cls == "CompressionBenchmark":
        return ("compress", p["level"])
    if cls == "AeadBenchmark":
        return (method, p["input"])
    if cls == "PackWriterBenchmark":
        return ("pack", p["compression"])
    if cls == "PipelineBenchmark":
        return ("pipeline", p["compression"])
    return (method, None)


class Result:
    def __init__(self, bench):
        m = bench["primaryMetric"]
        self.mbs = m["score"] * MB_PER_MIB
        err = m["scoreError"]
        self.err = None if err in (None, "NaN") or (isinstance(err, float) and math.isnan(err)) else float(err) * MB_PER_MIB
        sec = bench.get("secondaryMetrics", {})
        self.ratio = None
        if "inputBytes" in sec and "outputBytes" in sec and sec["inputBytes"]["score"] > 0:
            self.ratio = sec["outputBytes"]["score"] / sec["inputBytes"]["score"]


class Derived:
    """A rate computed from other results (no error bar of its own)."""
    def __init__(self, mbs):
        self.mbs = mbs
        self.err = None
        self.ratio = None


def fmt(v):
    if v is None:
        return "—"
    if v >= 100000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_err(r):
    if r is None:
        return "not run"
    if r.err is None:
        return f"{fmt(r.mbs)}"
    return f"{fmt(r.mbs)} ± {fmt(r.err)}"


LEVEL_TEXT = {"none": "none (stored)", "lz4": "lz4", "low": "low (zstd-1)", "medium": "medium (zstd-3)", "high": "high (zstd-9)"}


def pct_text(p):
    if p > 1000:
        return "≫ 100 %"
    return f"{p:.1f} %" if p < 10 else f"{p:.0f} %"


def harmonic(*rates):
    """Throughput of doing all these steps one after another on one core."""
    if any(r is None or r <= 0 for r in rates):
        return None
    return 1.0 / sum(1.0 / r for r in rates)


def rows_for(res, ds):
    """(stage label, result, ceiling label, ceiling MB/s, note, is pipeline stage for low) rows in data-path order."""
    g = lambda k, v=None: res.get((ds, k, v))
    val = lambda r: None if r is None else r.mbs
    memcpy, gear, sha = g("memcpy"), g("gearHash"), g("sha256")
    read, sha_mem = g("memcpyFromMemory"), g("sha256FromMemory")
    rows = []
    rows.append(("reference: memcpy of 128 KiB blocks (input as the stages get it)", memcpy, "—", None,
                 "the cost of touching each byte once"))
    rows.append(("reference: memcpy of 4 MiB pieces streamed from the 1 GiB array", read, "memcpy of 128 KiB blocks",
                 val(memcpy), "the least a file read costs (copies in 4 MiB, like FileBackup)"))
    rows.append(("reference: gear-hash loop (FastCDC without cut tests)", gear, "memcpy of 128 KiB blocks", val(memcpy), ""))
    rows.append(("chunking: FastCDC (non-relation files, WAL; 16 MiB files)", g("fastCdc"), "gear-hash loop", val(gear),
                 "skips the first 256 KiB of each chunk"))
    rows.append(("chunking: fixed 128 KiB blocks (relation files)", g("fixedBlock"), "memcpy of 128 KiB blocks", val(memcpy),
                 "no per-byte work: only call overhead"))
    rows.append(("hash: SHA-256 in 4 MiB updates (reference: a whole-file hash pass, no longer on the backup path)", sha,
                 "memcpy of 128 KiB blocks", val(memcpy), "JDK intrinsic (SHA-NI)"))
    rows.append(("hash: HMAC-SHA-256 chunk id (128 KiB blocks)", g("hmacChunkId"), "SHA-256", val(sha), ""))
    rows.append(("reference: SHA-256 streamed from the 1 GiB array instead", sha_mem, "SHA-256 of the file", val(sha),
                 "what the cache is worth"))
    for lvl in ["none", "lz4", "low", "medium", "high"]:
        r = g("compress", lvl)
        note = "" if r is None or r.ratio is None else f"stores {100 * r.ratio:.1f} % of the bytes"
        rows.append((f"compress: {LEVEL_TEXT[lvl]}, 128 KiB blocks", r, "memcpy of 128 KiB blocks", val(memcpy), note))
    for inp in ["none", "lz4", "low"]:
        rows.append((f"AES-256-GCM seal of {LEVEL_TEXT[inp]} blocks", g("seal", inp), "memcpy of 128 KiB blocks", val(memcpy),
                     "per byte of file data" + ("" if inp == "none" else ", i.e. of the smaller compressed blocks")))
    for inp in ["none", "low"]:
        rows.append((f"AES-256-GCM open of {LEVEL_TEXT[inp]} blocks (restore)", g("open", inp), "memcpy of 128 KiB blocks", val(memcpy),
                     "allocates each plaintext, as Repository.openChunk does"))
    for lvl in ["none", "lz4", "low"]:
        c, s = g("compress", lvl), g("seal", lvl)
        rows.append((f"pack writing, {LEVEL_TEXT[lvl]}: compress + seal + pack SHA-256", g("pack", lvl),
                     "compress + seal + SHA-256 of the stored bytes, one after the other",
                     harmonic(val(c), val(s), pack_sha(res, ds, lvl)), "ids precomputed, no upload"))
    for lvl in ["lz4", "low"]:
        pred = harmonic(val(read), val(g("hmacChunkId")), val(g("pack", lvl)))
        rows.append((f"**whole pipeline, {LEVEL_TEXT[lvl]}** (FileBackup → ChunkWriter, 16 MiB files on tmpfs)",
                     g("pipeline", lvl), "sum of its stages (read copy + HMAC + pack writing)", pred,
                     "one backup worker (`--parallel 1`)"))
    return rows


def pack_sha(res, ds, lvl):
    """SHA-256 of the finished pack (its name) per byte of file data: SHA-256's rate over the stored fraction."""
    sha, c = res.get((ds, "sha256", None)), res.get((ds, "compress", lvl))
    if sha is None or c is None or not c.ratio:
        return None
    return sha.mbs / c.ratio


def pipeline_stages(res, ds, lvl):
    """The stages every relation-file byte passes through on backup at this level (one core, one after another)."""
    g = lambda k, v=None: res.get((ds, k, v))
    return [
        ("read copy (memcpy of 4 MiB pieces)", g("memcpyFromMemory")),
        ("fixed 128 KiB chunking", g("fixedBlock")),
        ("HMAC-SHA-256 chunk id", g("hmacChunkId")),
        (f"compress {LEVEL_TEXT[lvl]}", g("compress", lvl)),
        (f"AES-256-GCM seal of {lvl} blocks", g("seal", lvl)),
        (f"SHA-256 of the pack (derived)", Derived(pack_sha(res, ds, lvl))),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--command", required=True, help="the one command that produced this")
    ap.add_argument("--jmh-command", required=True)
    ap.add_argument("--bytes", required=True)
    ap.add_argument("--cpu", default="")
    ap.add_argument("--nproc", default="")
    ap.add_argument("--memory", default="")
    ap.add_argument("--java", default="")
    ap.add_argument("--os", default="")
    ap.add_argument("--date", default="")
    ap.add_argument("--load-before", default="")
    ap.add_argument("--load-after", default="")
    ap.add_argument("--seconds", default="")
    ap.add_argument("--source", default="")
    ap.add_argument("--log", default="", help="the JMH output, to tell whether the data sets were generated in this run")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()

    with open(a.json) as f:
        data = json.load(f)
    if not data:
        sys.exit("no benchmark results in " + a.json)
    res = {}
    for b in data:
        ds = b.get("params", {}).get("dataset", "?")
        k = key(b)
        res[(ds, k[0], k[1])] = Result(b)
    b0 = data[0]
    datasets = [d for d in DATASETS if any(k[0] == d for k in res)]

    out = []
    w = out.append
    w("# Data-path stage benchmarks (JMH)")
    w("")
    if a.quick:
        w("> **Quick run** (small data set, short iterations): for checking that the benchmarks work, not for numbers.")
        w("")
    w("MB/s **per core** (one thread) of each stage of the backup data path, measured with JMH on PostgreSQL heap pages,")
    w("next to a single-core ceiling for that stage's work, and the whole pipeline next to its stages, so the slowest stage")
    w("is visible. Generated by `bench/stages.sh` from the JMH results; do not edit by hand, run it again.")
    w("")
    w("## How it was run")
    w("")
    w("```sh")
    w(a.command)
    w("```")
    w("")
    w("which builds `benchmarks/target/benchmarks.jar` (`./mvnw -q -pl benchmarks -am package -Dmaven.test.skip=true`) and runs:")
    w("")
    w("```sh")
    w(a.jmh_command)
    w("```")
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| machine | {a.nproc} cores, {a.cpu}, {a.memory} memory |")
    if a.os:
        w(f"| OS | {a.os} |")
    w(f"| Java | {a.java} (JMH {b0.get('jmhVersion', '?')}, fork options `{' '.join(b0.get('jvmArgs', []))}`) |")
    w(f"| iterations | {b0.get('forks')} fork, {b0.get('warmupIterations')} × {b0.get('warmupTime')} warm-up, "
      f"{b0.get('measurementIterations')} × {b0.get('measurementTime')} measured, per benchmark and parameter set |")
    w(f"| data | {a.bytes} of heap pages per data set ({a.source}) |")
    if a.date:
        w(f"| date | {a.date} |")
    if a.seconds:
        gen = None
        if a.log:
            import re
            with open(a.log, errors="replace") as f:
                m = re.search(r"heap pages ready in .* \((\d+) s\)", f.read())
            gen = None if m is None else int(m.group(1))
        how = (f"the data sets were generated in this run ({gen} s)" if gen is not None
               else "the data sets came from the cache or --pgdata")
        w(f"| wall time | {int(float(a.seconds)) // 60} min {int(float(a.seconds)) % 60} s; {how} |")
    if a.load_before or a.load_after:
        w(f"| load average (1, 5, 15 min) | before: {a.load_before}; after: {a.load_after} |")
    w("")
    w("Data sets (PostgreSQL 15 heap relation files, 8 KiB pages, read after a checkpoint):")
    w("")
    for d in datasets:
        w(f"- **{d}**: {DATASET_TEXT.get(d, d)}.")
    w("")
    w("Units: every benchmark invocation processes the next 16 MiB of the data set (cycling through all of it) and counts")
    w("as 16 operations, so JMH's ops/s are MiB/s of **file data**; the tables show MB/s (10⁶ bytes/s) per core. Stages")
    w("that work on compressed blocks (seal, open, pack writing) are also counted per byte of file data, so every row")
    w("compares directly with the pipeline. ± is JMH's 99.9 % confidence half-width over the measured iterations.")
    w("")
    w("Each stage gets its input from the CPU cache: the next 16 MiB slice is copied into a buffer outside the measured")
    w("time, because in a backup every stage after the read works on bytes the read has just brought into the cache")
    w("(FileBackup reads 4 MiB at a time). The two references \"streamed from the 1 GiB array\" show the difference:")
    w("SHA-256 over bytes streamed from memory is markedly slower on this machine than over bytes just copied.")
    w("")

    w("## Running it")
    w("")
    w("- `bench/stages.sh`: everything, 1 GiB per data set (about 15 minutes on 2 cores); writes this file.")
    w("- `bench/stages.sh --quick`: 64 MiB per data set and short iterations, about 3 minutes; writes")
    w("  `benchmarks/target/benchmarks-stages-quick.md`. `--bytes 256m` (or `-Dlifeboat.bench.bytes=256m` on the `java`")
    w("  command) sets the data size: a smaller size makes quicker runs, mostly by generating less data.")
    w("- `bench/stages.sh -- Compression -p dataset=realistic`: only the benchmarks matching a pattern, one data set")
    w("  (anything after `--` goes to JMH); reports to `benchmarks/target/benchmarks-stages-partial.md`.")
    w("- `bench/stages.sh --pgdata /var/lib/postgresql/15/main/base`: your own heap pages instead of generated ones")
    w("  (main-fork relation files, largest relation first; `-Dlifeboat.bench.pgdata.pgbench=…` and `….realistic=…` set")
    w("  one data set each).")
    w("- The generated data sets are cached in `$TMPDIR/lifeboat-bench-data` (`-Dlifeboat.bench.cache=DIR`, or `off`),")
    w("  so each JMH fork does not build its own cluster; `--fresh-data` regenerates them. Benchmarks that write use")
    w("  `/dev/shm` (`-Dlifeboat.bench.tmp=DIR`).")
    w("- The benchmarks live in the `benchmarks/` module; `./mvnw verify` builds the jar but never runs them.")
    w("")
    w("## MB/s per core, each stage and the whole pipeline")
    w("")
    w("The single-core ceiling is the fastest simple reference for the stage's work measured on this machine in the same")
    w("run: a plain copy of the same bytes (memcpy of 128 KiB blocks), the bare primitive a stage is built on (the gear-hash loop for")
    w("FastCDC, SHA-256 for HMAC), or, for composite stages, the sum of their measured parts run one after another")
    w("(1 / Σ 1/MB/s). **Bold** marks the slowest stage of the default backup (`--compress low`).")
    w("")
    w("| stage | data set | MB/s per core (mean ± error) | single-core ceiling | ceiling MB/s | stage / ceiling | note |")
    w("|---|---|---:|---|---:|---:|---|")
    for d in datasets:
        slow = min(((n, r) for n, r in pipeline_stages(res, d, "low") if r is not None and r.mbs), key=lambda x: x[1].mbs,
                   default=None)
        for label, r, ceil_label, ceil, note in rows_for(res, d):
            if r is None and ceil is None:
                continue
            mbs = fmt_err(r)
            if slow is not None and r is slow[1]:
                mbs = f"**{mbs}**"
                label = f"**{label}**" if not label.startswith("**") else label
            pct = "—" if r is None or ceil is None else pct_text(100 * r.mbs / ceil)
            w(f"| {label} | {d} | {mbs} | {ceil_label} | {fmt(ceil)} | {pct} | {note} |")
    w("")

    w("## The slowest stage")
    w("")
    w("On one core a backup worker runs every stage one after another for each block, so the pipeline is slower than")
    w("its slowest stage; the \"sum of stages\" column is what the stage costs add up to (1 / Σ 1/MB/s over read copy,")
    w("fixed chunking, HMAC (whose ids also make the file's digest), compression, seal and the pack's SHA-256; the last is derived as")
    w("SHA-256's rate divided by the fraction of bytes stored). What the pipeline loses beyond that sum is its own")
    w("overhead: the kernel's page-cache copy, the dedup map, allocating each 17 MiB pack buffer, the upload thread.")
    w("")
    w("| data set | level | pipeline MB/s per core | slowest stage | its MB/s | pipeline as % of the slowest stage | sum of stages MB/s | pipeline as % of the sum |")
    w("|---|---|---:|---|---:|---:|---:|---:|")
    summary = []
    over = False
    for d in datasets:
        for lvl in ["lz4", "low"]:
            p = res.get((d, "pipeline", lvl))
            st = [(n, r) for n, r in pipeline_stages(res, d, lvl) if r is not None and r.mbs]
            if p is None or not st:
                continue
            n, r = min(st, key=lambda x: x[1].mbs)
            total = harmonic(*[x[1].mbs for x in st])
            w(f"| {d} | {LEVEL_TEXT[lvl]} | {fmt_err(p)} | {n} | {fmt(r.mbs)} | {100 * p.mbs / r.mbs:.0f} % | {fmt(total)} | "
              f"{'—' if total is None else f'{100 * p.mbs / total:.0f} %'} |")
            summary.append((d, lvl, p, n, r))
            over = over or (total is not None and p.mbs > total)
    w("")
    if over:
        w("Where the pipeline comes out faster than the sum of its stages, its stages overlap in the CPU (the upload")
        w("thread, the out-of-order core) or the stages were measured at a busier moment than the pipeline: each")
        w("benchmark runs at its own time on this shared machine, so the sum is only a rough bound.")
        w("")
    for d, lvl, p, n, r in summary:
        if lvl == "low":
            w(f"- **{d}, `--compress low`**: the slowest stage is **{n}** at {fmt(r.mbs)} MB/s per core; the whole pipeline "
              f"runs at {fmt(p.mbs)} MB/s per core, {100 * p.mbs / r.mbs:.0f} % of it.")
    w("")

    wide = [(d, k, v, x) for (d, k, v), x in res.items() if x.err is not None and x.mbs > 0 and x.err / x.mbs > 0.10]
    w("## Reading the numbers")
    w("")
    w("- Per core means one thread: a backup with `--parallel N` runs N such workers, up to the number of cores.")
    w("- The pipeline benchmark backs up 16 MiB relation files from tmpfs (reads from the page cache, not a disk) into an")
    w("  encrypted repository on tmpfs. Finished packs are written by ChunkWriter's upload threads beside the worker, as")
    w("  in a real backup, so that write (a copy into tmpfs) is not on the measured core. A fresh ChunkWriter starts each")
    w("  pass over the data, so nothing is deduplicated against an earlier pass; the index is written outside the")
    w("  measured iterations.")
    w("- Fixed-block chunking does no per-byte work (the cut is `min(len, 128 KiB)`); its number is only call overhead.")
    w("- The seal/open/pack rows for `lz4` and `low` work on the compressed blocks: on the very compressible pgbench data")
    w("  they handle only a few percent of the bytes, hence rates far above the cipher's own speed (the `none` rows).")
    w("- The slow zstd levels do not get through the whole data set within the measured iterations; each iteration")
    w("  continues where the last one stopped.")
    if wide:
        w(f"- **The error bars are wide** for {len(wide)} of {len(res)} results (± more than 10 % of the mean): this machine")
        w("  is shared with other engineers running tests and benchmarks while these ran (see the load average above), and")
        w(f"  {b0.get('measurementIterations')} iterations of {b0.get('measurementTime')} do not average that out. Compare stages within one run")
        w("  rather than across runs.")
    else:
        w("- The machine is shared with other engineers running tests; every error bar stayed within ± 10 % of its mean.")
    w("")
    with open(a.doc, "w") as f:
        f.write("\n".join(out))
    # the tables on stdout as well
    print("\n".join(out[out.index("## MB/s per core, each stage and the whole pipeline"):]))


if __name__ == "__main__":
    main()
