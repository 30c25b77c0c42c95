package dev.lifeboat.cli.commands.sandbox;

import dev.lifeboat.agent.Agent;
import dev.lifeboat.agent.AgentConfig;
import dev.lifeboat.cli.options.OutputOptions;
import dev.lifeboat.cli.options.WorkDirOptions;
import dev.lifeboat.cli.output.SignalCancellation;
import dev.lifeboat.controller.Controller;
import dev.lifeboat.controller.ControllerConfig;
import dev.lifeboat.engine.postgres.LocalCluster;
import dev.lifeboat.engine.postgres.PgValidator;
import dev.lifeboat.progress.Cancellation;
import dev.lifeboat.replication.ReplicationConfig;
import dev.lifeboat.replication.Replicator;
import dev.lifeboat.replication.RepositoryAccess;
import dev.lifeboat.repository.Repository;
import dev.lifeboat.repository.crypto.KeySource;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.util.Json;
import dev.lifeboat.util.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A whole Lifeboat on loopback to point the pipeline steps (Kestra plugin, Jenkins library), the REST API and the
 * control-plane commands at: a throwaway PostgreSQL under a light write load, its repository and a second region's
 * copy, and an embedded controller and agent (plaintext, as the quickstart). It runs until stopped and describes
 * itself in {@code DIR/sandbox.json}; nothing here is fit for production.
 */
@Command(
        name = "sandbox",
        description = "Run a throwaway PostgreSQL, a repository with a second region (dr) and an embedded controller "
                + "and agent on loopback until Ctrl-C, for trying the REST API and the pipeline steps against "
                + "something real. Writes DIR/sandbox.json: the controller's URL, the token files, the database.")
public final class SandboxCommand implements Callable<Integer> {
    @Mixin
    OutputOptions output;

    @Mixin
    WorkDirOptions workDir;

    @Option(
            names = "--scale",
            defaultValue = "1",
            description = "pgbench scale of the sample data (1 ≈ 16 MB). Default: ${DEFAULT-VALUE}.")
    int scale;

    @Option(
            names = "--database",
            defaultValue = "sandbox",
            description = "The name the controller knows the database by. Default: ${DEFAULT-VALUE}.")
    String database;

    @Option(
            names = "--rpo",
            defaultValue = "30s",
            description = "The sandbox policy's RPO (its tier is STANDARD; the agent streams WAL, and cancelling "
                    + "that WAL_STREAM job breaches the RPO on purpose). Default: ${DEFAULT-VALUE}.")
    String rpo;

    @Option(
            names = "--writes-per-second",
            defaultValue = "2",
            description = "pgbench transactions per second while the sandbox runs (0: no load). Default: "
                    + "${DEFAULT-VALUE}.")
    int writesPerSecond;

    @Option(
            names = "--operator-token-file",
            paramLabel = "FILE",
            description = "Use the token in FILE for the operator role (e.g. one a job platform already holds as a "
                    + "secret) instead of a new random one.")
    Path operatorTokenFile;

    @Option(
            names = "--replicate-dr",
            description = "Replicate to the dr region continuously (as 'lifeboat replication run' does) and count it "
                    + "in the database's RPO: the dashboard's Regions page then shows its lag, and pausing the region "
                    + "lets its RPO grow. Without it, dr is copied only by REPLICATE jobs and not counted.")
    boolean replicateDr;

    @Option(
            names = "--seconds",
            defaultValue = "0",
            description = "Stop after this many seconds (0: run until Ctrl-C or SIGTERM). Default: ${DEFAULT-VALUE}.")
    int seconds;

    @Override
    public Integer call() throws Exception {
        Path work = workDir.create("lifeboat-sandbox");
        try (SignalCancellation signal = output.cancelOnSignal("sandbox stopped", Duration.ofSeconds(30));
                LocalCluster pg = LocalCluster.create(work.resolve("cluster"), List.of())) {
            pg.start();
            pg.pgbench(List.of("-i", "-s", Integer.toString(scale), "--foreign-keys", "-q"), Duration.ofMinutes(30));
            say("sandbox: PostgreSQL on port " + pg.port() + " (" + pg.dataDir() + "), pgbench scale " + scale);

            Path repoDir = work.resolve("repo");
            Path drDir = Files.createDirectories(work.resolve("repo-dr"));
            Path keyFile = work.resolve("lifeboat.key");
            LocalBlobStore store = new LocalBlobStore(repoDir);
            Repository.init(store, KeySource.KeyFile.create(keyFile), false);
            String drUri = new LocalBlobStore(drDir).uri();
            Path replication = work.resolve("replication.json");
            Files.writeString(replication, """
                    {"regions": [{"name": "dr", "region": "sandbox-dr", "uri": "%s", "mode": "async"}]}
                    """.formatted(drUri));
            if (Processes.isRoot()) {
                // restore_command runs as the server's OS user: it reads the key and both repositories
                Processes.check(
                        List.of("chown", "-R", pg.osUser(), keyFile.toString(), repoDir.toString(), drDir.toString()),
                        Duration.ofSeconds(30));
            }

            Path tokens = Files.createDirectories(work.resolve("tokens"));
            Map<String, String> tokenFiles = new LinkedHashMap<>();
            StringBuilder tokenYaml = new StringBuilder();
            for (String role : List.of("viewer", "operator", "admin")) {
                Path f = tokens.resolve(role + ".token");
                byte[] secret = new byte[24];
                new SecureRandom().nextBytes(secret);
                String token = role.equals("operator") && operatorTokenFile != null
                        ? Files.readString(operatorTokenFile).strip()
                        : HexFormat.of().formatHex(secret);
                Files.writeString(f, token + "\n");
                Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
                tokenFiles.put(role, f.toString());
                tokenYaml
                        .append("  - {name: sandbox-")
                        .append(role)
                        .append(", role: ")
                        .append(role)
                        .append(", token-file: ")
                        .append(f)
                        .append("}\n");
            }
            Path controllerYaml = work.resolve("controller.yaml");
            Files.writeString(controllerYaml, """
                    # sandbox only: plaintext on loopback
                    insecure-dev: true
                    grpc-listen: 127.0.0.1:%d
                    http-listen: 127.0.0.1:%d
                    state-dir: controller-state
                    heartbeat-interval: 2s
                    evaluate-interval: 2s
                    history-step: 5s
                    tokens:
                    %s
                    policies:
                      sandbox:
                        tier: STANDARD
                        rpo: %s
                        # the agent streams WAL on its own (wal-stream: true): cancelling that job shows an RPO breach
                        full-schedule: "off"
                        incremental-schedule: "off"
                        drill-schedule: "off"
                    databases:
                      # without --replicate-dr the dr copy is made by REPLICATE jobs when a pipeline asks and only
                      # the primary counts for RPO
                      - {name: %s, agent: sandbox-agent, policy: sandbox, regions: [%s]}
                    """.formatted(
                            PgValidator.freePort(),
                            PgValidator.freePort(),
                            tokenYaml.toString().stripTrailing(),
                            rpo,
                            database,
                            replicateDr ? "sandbox, dr" : "sandbox"));
            ControllerConfig cc = ControllerConfig.load(controllerYaml);
            Path agentYaml = work.resolve("agent.yaml");
            Files.writeString(agentYaml, """
                    # sandbox only: plaintext on loopback
                    id: sandbox-agent
                    region: sandbox
                    insecure-dev: true
                    controller: %s
                    listen: 127.0.0.1:%d
                    metrics-listen: 127.0.0.1:%d
                    state-dir: agent-state
                    rpo-probe-interval: 1s
                    databases:
                      - name: %s
                        pgdata: %s
                        repo: %s
                        key-file: %s
                        wal-stream: true
                        parallel: 2
                        replication: %s
                    """.formatted(
                            cc.grpcListen,
                            PgValidator.freePort(),
                            PgValidator.freePort(),
                            database,
                            pg.dataDir(),
                            store.uri(),
                            keyFile,
                            replication));
            try (Controller controller = Controller.start(cc);
                    Agent agent = Agent.start(AgentConfig.load(agentYaml))) {
                Instant linkBy = Instant.now().plusSeconds(60);
                while (!agent.linkedToController() && Instant.now().isBefore(linkBy)) {
                    Thread.sleep(100);
                }
                // up means WAL streams: a backup taken before that would have no archived WAL after it
                while (Instant.now().isBefore(linkBy)
                        && controller.jobs().list(database, "RUNNING", null, 100).stream()
                                .noneMatch(j -> j.type().equals("WAL_STREAM"))) {
                    Thread.sleep(200);
                }
                Cancellation replicating = new Cancellation();
                Thread replicator = replicateDr ? replicate(store, replication, replicating) : null;
                Process load = writesPerSecond > 0
                        ? pg.pgbenchAsync(
                                List.of("-c", "1", "-R", Integer.toString(writesPerSecond), "-T", "31536000", "-n"))
                        : null;
                try {
                    Map<String, Object> about = new LinkedHashMap<>();
                    about.put("controller", "http://127.0.0.1:" + controller.httpPort());
                    about.put("database", database);
                    about.put("tokenFiles", tokenFiles);
                    about.put("regions", List.of("dr"));
                    about.put("pgdata", pg.dataDir().toString());
                    about.put("pgPort", pg.port());
                    about.put("pgSocketDir", pg.socketDir().toString());
                    about.put("repository", store.uri());
                    about.put("drRepository", drUri);
                    about.put("keyFile", keyFile.toString());
                    about.put("controllerConfig", controllerYaml.toString());
                    about.put("agentConfig", agentYaml.toString());
                    about.put("pid", ProcessHandle.current().pid());
                    // written last and atomically: its presence says the sandbox is up
                    Path tmp = work.resolve(".sandbox.json.tmp");
                    Files.writeString(tmp, Json.pretty(about));
                    Files.move(tmp, work.resolve("sandbox.json"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                    if (output.json()) {
                        output.printJson(about);
                    } else {
                        say("sandbox: controller on " + about.get("controller") + " (database '" + database
                                + "', region " + "'dr' for drills), tokens in " + tokens);
                        say("  curl -H \"Authorization: Bearer $(cat " + tokenFiles.get("operator") + ")\" "
                                + about.get("controller") + "/api/v1/status/" + database);
                        say("  described in " + work.resolve("sandbox.json") + "; Ctrl-C stops it");
                    }
                    Instant end = seconds > 0 ? Instant.now().plusSeconds(seconds) : Instant.MAX;
                    while (!signal.cancellation().isCancelled() && Instant.now().isBefore(end)) {
                        Thread.sleep(200);
                    }
                } finally {
                    replicating.cancel("sandbox stopping");
                    if (replicator != null) {
                        replicator.join(Duration.ofSeconds(30));
                    }
                    if (load != null) {
                        load.destroy();
                        load.waitFor();
                    }
                    Files.deleteIfExists(work.resolve("sandbox.json"));
                }
            }
            pg.stop();
            say("sandbox: stopped; everything is kept in " + work + " (rm -rf it when done)");
        }
        return 0;
    }

    /** The dr region's replicator, in the background until {@code cancel}: what 'replication run' would run. */
    private static Thread replicate(BlobStore primary, Path replication, Cancellation cancel) throws IOException {
        ReplicationConfig.Region dr = ReplicationConfig.load(replication).region("dr");
        BlobStore secondary = RepositoryAccess.openRegion(dr, cancel::isCancelled);
        return Thread.ofVirtual().name("sandbox-dr-replicator").start(() -> {
            try {
                new Replicator(primary, secondary, dr).run(Duration.ofSeconds(1), cancel);
            } catch (IOException | RuntimeException e) {
                System.err.println("sandbox: the dr replicator stopped: " + e.getMessage());
            }
        });
    }

    private void say(String s) {
        if (!output.json()) {
            System.out.println(s);
        }
    }
}
