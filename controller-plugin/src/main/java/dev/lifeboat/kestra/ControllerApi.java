package dev.lifeboat.kestra;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The controller's REST API as the tasks use it: JSON in and out, a bearer token, the controller's own errors. */
final class ControllerApi {
    static final ObjectMapper JSON = new ObjectMapper();

    /** The controller answered with an error status; the message is the controller's. */
    static final class ApiException extends IOException {
        final int status;

        ApiException(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private final URI base;
    private final String token;
    private final HttpClient http;

    ControllerApi(String url, String token) {
        this.base = URI.create(url.endsWith("/") ? url : url + "/");
        this.token = token;
        this.http =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(15)).build();
    }

    URI resolve(String path) {
        return base.resolve(path);
    }

    JsonNode get(String path) throws IOException {
        return JSON.readTree(send(HttpRequest.newBuilder(resolve(path)).GET()));
    }

    JsonNode post(String path, Object body) throws IOException {
        return JSON.readTree(send(HttpRequest.newBuilder(resolve(path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)))));
    }

    private String send(HttpRequest.Builder r) throws IOException {
        HttpResponse<String> resp;
        try {
            resp = http.send(
                    r.header("Authorization", "Bearer " + token)
                            .timeout(Duration.ofSeconds(60))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while calling the controller at " + base, e);
        } catch (ConnectException e) {
            throw new IOException("cannot reach the Lifeboat controller at " + base + " (" + e + ")", e);
        }
        if (resp.statusCode() >= 400) {
            String message = resp.body();
            try {
                message = JSON.readTree(resp.body()).path("error").asText(resp.body());
            } catch (IOException ignored) {
                // not JSON: the body as it is
            }
            throw new ApiException(
                    resp.statusCode(), "the Lifeboat controller answered " + resp.statusCode() + ": " + message);
        }
        return resp.body().isBlank() ? "null" : resp.body();
    }
}
