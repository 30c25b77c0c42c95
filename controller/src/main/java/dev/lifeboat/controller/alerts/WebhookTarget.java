package dev.lifeboat.controller.alerts;

import java.net.URI;
import java.net.http.HttpRequest;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Where alerts are posted.
 *
 * @param name       unique among the targets; deliveries in the outbox refer to it
 * @param url        http(s) endpoint
 * @param format     the body's shape
 * @param routingKey the PagerDuty integration key (required for {@link Format#PAGERDUTY_EVENTS_V2}, unused otherwise)
 * @param headers    extra request headers, e.g. {@code Authorization} for a generic receiver
 * @param severities which severities go to this target; empty means all
 */
public record WebhookTarget(
        String name, URI url, Format format, String routingKey, Map<String, String> headers, Set<String> severities) {
    /** PagerDuty's Events API v2 endpoint. */
    public static final URI PAGERDUTY_EVENTS_URL = URI.create("https://events.pagerduty.com/v2/enqueue");

    public enum Format {
        /** The alert's fields as JSON plus {@code "event": "raised" | "resolved"}. */
        GENERIC_JSON,
        /** A PagerDuty Events API v2 event ({@code trigger} / {@code resolve}, deduplicated by alert id). */
        PAGERDUTY_EVENTS_V2,
        /** A Slack incoming-webhook message ({@code text} plus Block Kit {@code blocks}). */
        SLACK
    }

    public WebhookTarget {
        if (name == null || name.isBlank() || name.length() > 200) {
            throw new IllegalArgumentException("a webhook target needs a name of 1 to 200 characters");
        }
        if (url == null
                || url.getScheme() == null
                || !Set.of("http", "https").contains(url.getScheme().toLowerCase(Locale.ROOT))
                || url.getHost() == null) {
            throw new IllegalArgumentException(
                    "webhook target " + name + ": url must be an absolute http(s) URL, was " + url);
        }
        if (format == null) {
            throw new IllegalArgumentException(
                    "webhook target " + name + ": format is required (GENERIC_JSON, PAGERDUTY_EVENTS_V2 or SLACK)");
        }
        if (format == Format.PAGERDUTY_EVENTS_V2 && (routingKey == null || routingKey.isBlank())) {
            throw new IllegalArgumentException(
                    "webhook target " + name + ": PagerDuty needs routingKey, the integration key of an"
                            + " Events API v2 integration on the service");
        }
        headers = headers == null ? Map.of() : Map.copyOf(new TreeMap<>(headers));
        for (var h : headers.entrySet()) {
            try {
                HttpRequest.newBuilder(url).header(h.getKey(), h.getValue());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "webhook target " + name + ": header '" + h.getKey() + "' cannot be set: " + e.getMessage());
            }
        }
        severities = severities == null
                ? Set.of()
                : severities.stream().map(s -> s.toLowerCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
        for (String s : severities) {
            if (!Alert.SEVERITIES.contains(s)) {
                throw new IllegalArgumentException(
                        "webhook target " + name + ": unknown severity '" + s + "'; use warning or critical");
            }
        }
    }

    /** The PagerDuty preset: Events API v2 at PagerDuty's endpoint. */
    public static WebhookTarget pagerDuty(String name, String routingKey, Set<String> severities) {
        return new WebhookTarget(
                name, PAGERDUTY_EVENTS_URL, Format.PAGERDUTY_EVENTS_V2, routingKey, Map.of(), severities);
    }

    /** The Slack preset: an incoming-webhook URL ({@code https://hooks.slack.com/services/…}). */
    public static WebhookTarget slack(String name, URI incomingWebhookUrl, Set<String> severities) {
        return new WebhookTarget(name, incomingWebhookUrl, Format.SLACK, null, Map.of(), severities);
    }

    /** Whether alerts of this severity go to this target. */
    public boolean accepts(String severity) {
        return severities.isEmpty() || severities.contains(severity);
    }

    /** Never prints header values, the routing key or the URL's path: they are credentials (a Slack URL is one). */
    @Override
    public String toString() {
        return "WebhookTarget[" + name + " " + format + " " + url.getScheme() + "://" + url.getHost()
                + (url.getPort() >= 0 ? ":" + url.getPort() : "") + "/…]";
    }
}
