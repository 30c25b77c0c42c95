package dev.lifeboat.controller.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lifeboat.security.MutualTls;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import javax.net.ssl.SSLHandshakeException;

/** A small client of the controller's REST API for the CLI (and pipeline steps): HTTPS trusting the Lifeboat CA, a
 * bearer token. */
public final class ControllerClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final URI base;
    private final String token;
    private final HttpClient http;

    /** @param caCert the CA that issued the controller's certificate; null trusts the JVM's default CAs */
    public ControllerClient(URI base, String token, Path caCert) throws IOException {
        this.base = base;
        this.token = token;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
        if (caCert != null && base.getScheme().equals("https")) {
            b.sslContext(MutualTls.trustingSslContext(caCert));
        }
        this.http = b.build();
    }

    /** A failed call: the HTTP status and the controller's error message. */
    public static final class ApiException extends IOException {
        public final int status;

        ApiException(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    public JsonNode get(String path) throws IOException {
        return send(HttpRequest.newBuilder(base.resolve(path)).GET());
    }

    public JsonNode post(String path, Object body) throws IOException {
        return send(HttpRequest.newBuilder(base.resolve(path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))));
    }

    private JsonNode send(HttpRequest.Builder r) throws IOException {
        if (token != null) {
            r.header("Authorization", "Bearer " + token);
        }
        HttpResponse<String> resp;
        try {
            resp = http.send(r.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (SSLHandshakeException e) {
            throw new IOException(
                    "TLS handshake with " + base + " failed (" + e.getMessage()
                            + "); pass the CA that issued the controller's certificate with --ca",
                    e);
        } catch (ConnectException e) {
            throw new IOException("cannot reach the controller at " + base + " (" + e.getMessage() + ")", e);
        }
        JsonNode body;
        try {
            body = resp.body().isBlank() ? JSON.nullNode() : JSON.readTree(resp.body());
        } catch (IOException e) {
            body = JSON.getNodeFactory().textNode(resp.body());
        }
        if (resp.statusCode() >= 400) {
            String msg = body.path("error").asText(resp.body());
            throw new ApiException(resp.statusCode(), "controller answered " + resp.statusCode() + ": " + msg);
        }
        return body;
    }
}
