package dev.lifeboat.agent.metrics;

import com.google.protobuf.Timestamp;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import dev.lifeboat.proto.v1.MetricSample;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBucket;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.DistributionDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.Quantile;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import io.prometheus.metrics.model.snapshots.UnknownSnapshot;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's meters: one Prometheus registry with the JVM and process meters bound, served as Prometheus text at
 * {@code GET /metrics} (liveness at {@code GET /healthz}), and {@link #snapshot()} for pushing the agent's own
 * {@code lifeboat_*} series to the controller over the agent link.
 */
public final class AgentMetrics implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AgentMetrics.class);
    /** Series whose Prometheus name starts with this are the agent's own (jobs, RPO), pushed to the controller. */
    public static final String PREFIX = "lifeboat_";

    private static final String TEXT = "text/plain; version=0.0.4; charset=utf-8";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gc = new JvmGcMetrics();
    private final HttpServer server;
    private final ExecutorService executor;

    /**
     * As {@link #AgentMetrics(InetSocketAddress, SSLContext, boolean)}, requiring a client certificate whenever TLS is
     * on (mutual TLS, like every other agent endpoint).
     */
    public AgentMetrics(InetSocketAddress address, SSLContext ssl) throws IOException {
        this(address, ssl, ssl != null);
    }

    /**
     * Binds the JVM and process meters and, when {@code address} is not null, serves them there (port 0: any free
     * port, see {@link #port()}).
     *
     * @param ssl                      null for plain HTTP, else HTTPS with this context (its key manager holds the
     *                                 agent's certificate; its trust manager decides which client certificates pass)
     * @param requireClientCertificate refuse TLS clients without a certificate the context trusts
     */
    public AgentMetrics(InetSocketAddress address, SSLContext ssl, boolean requireClientCertificate)
            throws IOException {
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        // the engine records into the global registry (the store stack's lifeboat_store_* meters): export those too
        Metrics.addRegistry(registry);
        if (address == null) {
            server = null;
            executor = null;
            return;
        }
        try {
            if (ssl == null) {
                server = HttpServer.create(address, 16);
            } else {
                HttpsServer https = HttpsServer.create(address, 16);
                https.setHttpsConfigurator(new HttpsConfigurator(ssl) {
                    @Override
                    public void configure(HttpsParameters params) {
                        SSLParameters p = getSSLContext().getDefaultSSLParameters();
                        p.setNeedClientAuth(requireClientCertificate);
                        params.setSSLParameters(p);
                    }
                });
                server = https;
            }
        } catch (BindException e) {
            Metrics.removeRegistry(registry);
            gc.close();
            throw new IOException(
                    "cannot serve metrics on " + address + ": " + e.getMessage()
                            + " (is another agent or service using that port? choose another metrics address)",
                    e);
        }
        server.createContext("/", this::handle);
        executor = Executors.newFixedThreadPool(
                2,
                r -> Thread.ofPlatform().daemon().name("lifeboat-metrics-http").unstarted(r));
        server.setExecutor(executor);
        server.start();
        log.info(
                "serving metrics at {}://{}:{}/metrics",
                ssl == null ? "http" : "https",
                address.getHostString(),
                port());
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** The port /metrics is served on; -1 when not served. */
    public int port() {
        return server == null ? -1 : server.getAddress().getPort();
    }

    /** Everything in Prometheus text format, as {@code GET /metrics} answers. */
    public String scrape() {
        return registry.scrape();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String method = ex.getRequestMethod();
            String path = ex.getRequestURI().getPath();
            if (!method.equals("GET") && !method.equals("HEAD")) {
                ex.getResponseHeaders().set("Allow", "GET, HEAD");
                send(ex, 405, "text/plain; charset=utf-8", "use GET\n");
                return;
            }
            switch (path) {
                case "/metrics" -> {
                    String accept = ex.getRequestHeaders().getFirst("Accept");
                    if (accept != null && accept.contains("application/openmetrics-text")) {
                        send(
                                ex,
                                200,
                                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                registry.scrape("application/openmetrics-text; version=1.0.0; charset=utf-8"));
                    } else {
                        send(ex, 200, TEXT, registry.scrape());
                    }
                }
                case "/healthz" -> send(ex, 200, "text/plain; charset=utf-8", "ok\n");
                default ->
                    send(
                            ex,
                            404,
                            "text/plain; charset=utf-8",
                            "not found: this endpoint serves /metrics and /healthz\n");
            }
        } catch (RuntimeException e) {
            log.warn("metrics request failed: {}", e.toString());
        }
    }

    private static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head ? -1 : b.length);
        if (!head) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(b);
            }
        }
    }

    /**
     * The agent's own series ({@code lifeboat_*}, not the JVM's) as they appear in {@code /metrics}: one sample per
     * exposed line, named and labelled as there (counters with {@code _total}, summaries and histograms as
     * {@code _count}, {@code _sum}, quantiles and buckets), all stamped now.
     */
    public List<MetricSample> snapshot() {
        Instant now = Instant.now();
        Timestamp at = Timestamp.newBuilder()
                .setSeconds(now.getEpochSecond())
                .setNanos(now.getNano())
                .build();
        List<MetricSample> out = new ArrayList<>();
        for (MetricSnapshot s : registry.getPrometheusRegistry().scrape()) {
            String name = s.getMetadata().getPrometheusName();
            if (!name.startsWith(PREFIX)) {
                continue;
            }
            for (DataPointSnapshot p : s.getDataPoints()) {
                Map<String, String> labels = labels(p);
                switch (s) {
                    case CounterSnapshot c ->
                        out.add(sample(
                                name + "_total",
                                labels,
                                ((CounterSnapshot.CounterDataPointSnapshot) p).getValue(),
                                at));
                    case GaugeSnapshot g ->
                        out.add(sample(name, labels, ((GaugeSnapshot.GaugeDataPointSnapshot) p).getValue(), at));
                    case UnknownSnapshot u ->
                        out.add(sample(name, labels, ((UnknownSnapshot.UnknownDataPointSnapshot) p).getValue(), at));
                    case SummarySnapshot sum -> {
                        distribution(out, name, labels, (DistributionDataPointSnapshot) p, at);
                        for (Quantile q : ((SummarySnapshot.SummaryDataPointSnapshot) p).getQuantiles()) {
                            out.add(sample(
                                    name,
                                    with(labels, "quantile", Double.toString(q.getQuantile())),
                                    q.getValue(),
                                    at));
                        }
                    }
                    case HistogramSnapshot h -> {
                        HistogramSnapshot.HistogramDataPointSnapshot hp =
                                (HistogramSnapshot.HistogramDataPointSnapshot) p;
                        distribution(out, name, labels, hp, at);
                        if (hp.hasClassicHistogramData()) {
                            long cumulative = 0; // the model counts per bucket; the exposition (and PromQL) per "le"
                            for (ClassicHistogramBucket b : hp.getClassicBuckets()) {
                                cumulative += b.getCount();
                                String le = b.getUpperBound() == Double.POSITIVE_INFINITY
                                        ? "+Inf"
                                        : Double.toString(b.getUpperBound());
                                out.add(sample(name + "_bucket", with(labels, "le", le), cumulative, at));
                            }
                        }
                    }
                    default -> {
                        // info and state-set series carry no number worth pushing
                    }
                }
            }
        }
        return out;
    }

    private static void distribution(
            List<MetricSample> out,
            String name,
            Map<String, String> labels,
            DistributionDataPointSnapshot p,
            Timestamp at) {
        if (p.hasCount()) {
            out.add(sample(name + "_count", labels, p.getCount(), at));
        }
        if (p.hasSum()) {
            out.add(sample(name + "_sum", labels, p.getSum(), at));
        }
    }

    private static Map<String, String> labels(DataPointSnapshot p) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < p.getLabels().size(); i++) {
            m.put(p.getLabels().getPrometheusName(i), p.getLabels().getValue(i));
        }
        return m;
    }

    private static Map<String, String> with(Map<String, String> labels, String k, String v) {
        Map<String, String> m = new LinkedHashMap<>(labels);
        m.put(k, v);
        return m;
    }

    private static MetricSample sample(String name, Map<String, String> labels, double value, Timestamp at) {
        return MetricSample.newBuilder()
                .setName(name)
                .putAllLabels(labels)
                .setValue(value)
                .setAt(at)
                .build();
    }

    @Override
    public void close() {
        if (server != null) {
            server.stop(0);
            executor.shutdownNow();
        }
        Metrics.removeRegistry(registry);
        gc.close();
        registry.close();
    }
}
