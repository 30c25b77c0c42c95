package dev.lifeboat.cli.options;

import dev.lifeboat.controller.client.ControllerClient;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where the controller's REST API is and how to authenticate to it. */
public final class ControllerOptions {
    @Option(
            names = "--controller",
            defaultValue = "https://127.0.0.1:7480",
            paramLabel = "URL",
            description = "The controller's REST API (env LIFEBOAT_CONTROLLER). Default: ${DEFAULT-VALUE}.")
    String controller;

    @Option(
            names = "--token-file",
            paramLabel = "FILE",
            description = "File holding a bearer token (env LIFEBOAT_TOKEN_FILE; "
                    + "or the token itself in LIFEBOAT_TOKEN).")
    Path tokenFile;

    @Option(
            names = "--ca",
            paramLabel = "FILE",
            description = "CA certificate that issued the controller's certificate (env LIFEBOAT_CA).")
    Path ca;

    public ControllerClient client() throws IOException {
        String token = tokenFile != null ? Files.readString(tokenFile).trim() : System.getenv("LIFEBOAT_TOKEN");
        if (token == null || token.isBlank()) {
            throw new IllegalArgumentException("no token: pass --token-file FILE or set LIFEBOAT_TOKEN");
        }
        return new ControllerClient(URI.create(controller.endsWith("/") ? controller : controller + "/"), token, ca);
    }
}
