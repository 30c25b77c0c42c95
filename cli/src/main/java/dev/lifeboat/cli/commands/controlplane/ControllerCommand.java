package dev.lifeboat.cli.commands.controlplane;

import dev.lifeboat.cli.options.LoggingOptions;
import dev.lifeboat.controller.Controller;
import dev.lifeboat.controller.ControllerConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "controller",
        description = "Run the controller: agents' gRPC endpoint (mutual TLS), policies and schedules, "
                + "RPO/RTO status, alerts, audit log and REST API. Runs until stopped (SIGTERM).")
public final class ControllerCommand implements Callable<Integer> {
    @Option(
            names = "--config",
            required = true,
            paramLabel = "FILE",
            description = "Controller config (YAML), see docs/controller.md.")
    Path config;

    @Mixin
    LoggingOptions logging;

    @Override
    public Integer call() throws Exception {
        ControllerConfig c = ControllerConfig.load(config);
        Controller controller = Controller.start(c);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            controller.close();
                            stopped.countDown();
                        },
                        "controller-shutdown"));
        System.out.printf(
                "controller running: agents dial port %d, REST on port %d%n",
                controller.grpcPort(), controller.httpPort());
        System.out.flush();
        stopped.await();
        return 0;
    }
}
