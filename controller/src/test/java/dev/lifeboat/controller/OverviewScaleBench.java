package dev.lifeboat.controller;

import dev.lifeboat.controller.status.RpoHistory;
import dev.lifeboat.controller.status.SlaStatus;
import dev.lifeboat.proto.v1.ControllerMessage;
import dev.lifeboat.proto.v1.JobEvent;
import dev.lifeboat.proto.v1.JobType;
import dev.lifeboat.security.MutualTls;
import dev.lifeboat.security.Pki;
import dev.lifeboat.security.TlsFiles;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.CookieManager;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A benchmark, not a test (its name keeps it out of the build's test run): how the dashboard's overview page and
 * /api/v1/status scale with the inventory. For each size it starts a real controller (embedded database, HTTPS, and
 * gRPC with mutual TLS, on loopback) and connects simulated agents over the real agent link: ten databases each, RPO
 * readings for two regions per database. It runs a full backup, a restore and a DR drill per database through the
 * dispatcher, logs in through the login form, and measures the overview's time to first byte and its size. Run it
 * with {@code bench/overview-scale.sh}.
 */
class OverviewScaleBench {
    private static final int DATABASES_PER_AGENT = 10;

    @TempDir
    Path tmp;

    private Path pki;

    record Result(
            int databases,
            double ttfbMedianMs,
            double ttfbP90Ms,
            double fullMedianMs,
            long bytes,
            double apiMs,
            double regionsTtfbMs,
            double regionsFullMs,
            long regionsBytes) {}

    @Test
    void overviewTimeToFirstByteAndSizeByInventorySize() throws Exception {
        Assumptions.assumeTrue(Boolean.getBoolean("lifeboat.bench"), "run by bench/overview-scale.sh");
        int[] sizes = Arrays.stream(System.getProperty("lifeboat.bench.sizes", "125,250,500,1000")
                        .split(","))
                .mapToInt(Integer::parseInt)
                .toArray();
        int requests = Integer.getInteger("lifeboat.bench.requests", 30);
        // real TLS as in production: a CA, the controller's certificate and one per simulated agent
        pki = tmp.resolve("pki");
        Pki.initCa(pki, "Bench CA", Duration.ofDays(2));
        Pki.issue(
                pki,
                Pki.Role.CONTROLLER,
                "controller",
                List.of("localhost"),
                List.of("127.0.0.1"),
                Duration.ofDays(1),
                pki);
        int most = Arrays.stream(sizes).max().orElse(0);
        for (int i = 0; i < most; i += DATABASES_PER_AGENT) {
            Pki.issue(pki, Pki.Role.AGENT, agent(i), List.of(), List.of(), Duration.ofDays(1), pki);
        }
        List<Result> results = new ArrayList<>();
        for (int n : sizes) {
            results.add(run(n, requests));
            System.out.println("[overview-scale] " + results.getLast());
        }
        StringBuilder md =
                new StringBuilder("| databases | overview first byte, median | p90 | whole page, median | page size"
                        + " | /api/v1/status, median | regions page first byte / whole, median | its size |\n"
                        + "|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Result r : results) {
            md.append(String.format(
                    Locale.ROOT,
                    "| %d | %.1f ms | %.1f ms | %.1f ms | %,d B (%,d B per database) | %.1f ms | %.1f / %.1f ms"
                            + " | %,d B |%n",
                    r.databases(),
                    r.ttfbMedianMs(),
                    r.ttfbP90Ms(),
                    r.fullMedianMs(),
                    r.bytes(),
                    r.bytes() / r.databases(),
                    r.apiMs(),
                    r.regionsTtfbMs(),
                    r.regionsFullMs(),
                    r.regionsBytes()));
        }
        System.out.println(md);
        String out = System.getProperty("lifeboat.bench.out");
        if (out != null) {
            Files.writeString(Path.of(out), md);
        }
    }

    private Result run(int databases, int requests) throws Exception {
        Path dir = Files.createTempDirectory(tmp, "n" + databases);
        Files.writeString(dir.resolve("op.token"), "bench-operator-token");
        StringBuilder yaml = new StringBuilder("""
                grpc-listen: 127.0.0.1:%d
                http-listen: 127.0.0.1:%d
                state-dir: state
                tls: {ca: %s, cert: %s, key: %s}
                heartbeat-interval: 5s
                evaluate-interval: 5s
                tokens:
                  - {name: bench, role: operator, token-file: op.token}
                policies:
                  bench: {tier: STANDARD, full-schedule: "off", incremental-schedule: "off", drill-schedule: "off"}
                databases:
                """.formatted(
                        ControllerTest.freePort(),
                        ControllerTest.freePort(),
                        pki.resolve("ca.crt"),
                        pki.resolve("controller.crt"),
                        pki.resolve("controller.key")));
        for (int i = 0; i < databases; i++) {
            yaml.append("  - {name: %s, agent: %s, policy: bench, regions: [dr]}\n".formatted(db(i), agent(i)));
        }
        Path config = dir.resolve("controller.yaml");
        Files.writeString(config, yaml);
        List<ScriptedAgent> agents = new ArrayList<>();
        try (Controller controller = Controller.start(ControllerConfig.load(config))) {
            for (int a = 0; a * DATABASES_PER_AGENT < databases; a++) {
                List<String> dbs = new ArrayList<>();
                for (int i = a * DATABASES_PER_AGENT; i < Math.min(databases, (a + 1) * DATABASES_PER_AGENT); i++) {
                    dbs.add(db(i));
                }
                ScriptedAgent s = new ScriptedAgent(
                                controller.grpcPort(),
                                MutualTls.channelCredentials(TlsFiles.inDir(pki, agent(a * DATABASES_PER_AGENT))))
                        .hello(agent(a * DATABASES_PER_AGENT), "eu", dbs.toArray(String[]::new));
                s.heartbeat();
                for (int k = 0; k < dbs.size(); k++) {
                    String d = dbs.get(k);
                    s.metric("lifeboat_rpo_seconds", Map.of("database", d, "region", "eu"), k % 3);
                    // every seventh database's DR region lags past the STANDARD target: red rows too
                    s.metric("lifeboat_rpo_seconds", Map.of("database", d, "region", "dr"), k % 7 == 0 ? 1200 : 4);
                    s.metric("lifeboat_wal_durable_lsn", Map.of("database", d, "region", "eu"), (double) (2L << 32));
                    s.metric("lifeboat_wal_current_lsn", Map.of("database", d), (double) ((2L << 32) + (k << 20)));
                }
                agents.add(s);
            }
            // a backup, a restore (throughput for the RTO) and a drill per database, answered by their agents
            for (JobType type : List.of(JobType.BACKUP_FULL, JobType.RESTORE, JobType.DR_DRILL)) {
                List<String> ids = new ArrayList<>();
                for (int i = 0; i < databases; i++) {
                    ids.add(controller
                            .dispatcher()
                            .submit(db(i), type, Map.of(), "bench")
                            .id());
                }
                for (int a = 0; a < agents.size(); a++) {
                    answerStarts(
                            agents.get(a), type, Math.min(DATABASES_PER_AGENT, databases - a * DATABASES_PER_AGENT));
                }
                for (String id : ids) {
                    ControlPlaneWait.until(
                            "job " + id,
                            () -> controller
                                    .jobs()
                                    .get(id)
                                    .filter(j -> j.ended())
                                    .orElse(null));
                }
            }
            for (ScriptedAgent s : agents) {
                s.heartbeat();
            }

            String base = "https://127.0.0.1:" + controller.httpPort();
            HttpClient http = HttpClient.newBuilder()
                    .sslContext(MutualTls.trustingSslContext(pki.resolve("ca.crt")))
                    .cookieHandler(new CookieManager())
                    .build();
            HttpResponse<Void> login = http.send(
                    HttpRequest.newBuilder(URI.create(base + "/ui/login"))
                            .header("Content-Type", "application/x-www-form-urlencoded")
                            .POST(HttpRequest.BodyPublishers.ofString("token=bench-operator-token"))
                            .build(),
                    HttpResponse.BodyHandlers.discarding());
            if (login.statusCode() / 100 != 3) {
                throw new AssertionError("login answered " + login.statusCode());
            }
            // warm-up: class loading, JIT, the embedded database's caches
            for (int i = 0; i < 20; i++) {
                fetch(http, base + "/ui/overview", null);
            }
            double[] ttfb = new double[requests];
            double[] full = new double[requests];
            long bytes = 0;
            for (int i = 0; i < requests; i++) {
                long[] times = new long[2];
                bytes = fetch(http, base + "/ui/overview", times);
                ttfb[i] = times[0] / 1e6;
                full[i] = times[1] / 1e6;
            }
            // the Regions page draws every region's history: fill all of it (a controller up for 12 hours)
            List<SlaStatus.DatabaseStatus> all = controller.status().all();
            Instant now = Instant.now();
            long step = controller.history().step().toSeconds();
            for (int i = RpoHistory.POINTS - 1; i >= 0; i--) {
                controller.history().record(all, now.minusSeconds(i * step));
            }
            for (int i = 0; i < 5; i++) {
                fetch(http, base + "/ui/regions", null);
            }
            double[] regionsTtfb = new double[requests];
            double[] regionsFull = new double[requests];
            long regionsBytes = 0;
            for (int i = 0; i < requests; i++) {
                long[] times = new long[2];
                regionsBytes = fetch(http, base + "/ui/regions", times);
                regionsTtfb[i] = times[0] / 1e6;
                regionsFull[i] = times[1] / 1e6;
            }
            double[] api = new double[requests];
            for (int i = 0; i < requests; i++) {
                long[] times = new long[2];
                fetch(http, base + "/api/v1/status", times, "Authorization", "Bearer bench-operator-token");
                api[i] = times[1] / 1e6;
            }
            for (ScriptedAgent s : agents) {
                s.close();
            }
            Arrays.sort(ttfb);
            Arrays.sort(full);
            Arrays.sort(api);
            Arrays.sort(regionsTtfb);
            Arrays.sort(regionsFull);
            return new Result(
                    databases,
                    ttfb[requests / 2],
                    ttfb[(int) Math.ceil(requests * 0.9) - 1],
                    full[requests / 2],
                    bytes,
                    api[requests / 2],
                    regionsTtfb[requests / 2],
                    regionsFull[requests / 2],
                    regionsBytes);
        }
    }

    /** GETs a page; times[0] = nanoseconds to its first body byte, times[1] = to its last. Returns its size. */
    private static long fetch(HttpClient http, String url, long[] times, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).GET();
        for (int i = 0; i + 1 < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        long t0 = System.nanoTime();
        HttpResponse<InputStream> r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = r.body()) {
            if (r.statusCode() != 200) {
                throw new AssertionError(url + " answered " + r.statusCode());
            }
            int first = in.read();
            long firstByte = System.nanoTime() - t0;
            long n = first < 0 ? 0 : 1 + in.transferTo(OutputStream.nullOutputStream());
            if (times != null) {
                times[0] = firstByte;
                times[1] = System.nanoTime() - t0;
            }
            return n;
        }
    }

    private static void answerStarts(ScriptedAgent s, JobType type, int expected) throws InterruptedException {
        for (int answered = 0; answered < expected; ) {
            ControllerMessage m = s.received.poll(30, TimeUnit.SECONDS);
            if (m == null) {
                throw new AssertionError("the controller sent " + answered + " of " + expected + " job starts");
            }
            // the controller also reads each repository's catalog after a backup: not what is measured here
            if (!m.hasStart() || m.getStart().getType() != type) {
                continue;
            }
            answered++;
            String result = switch (type) {
                case BACKUP_FULL ->
                    "{\"id\":\"b-" + m.getStart().getJobId() + "\",\"size\":5000000000," + "\"stopLsn\":\"1/0\"}";
                default ->
                    "{\"restore_bytes\":5000000000,\"restore_seconds\":50.0,\"wal_replay_bytes\":"
                            + "1000000000,\"replay_seconds\":20.0,\"validated\":true,\"outcome\":\"PASSED\"}";
            };
            s.event(m.getStart().getJobId(), 1, JobEvent.Kind.COMPLETED, result);
        }
    }

    private static String db(int i) {
        return String.format(Locale.ROOT, "db%04d", i);
    }

    private static String agent(int databaseIndex) {
        return String.format(Locale.ROOT, "agent-%03d", databaseIndex / DATABASES_PER_AGENT);
    }
}
