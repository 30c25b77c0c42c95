package dev.lifeboat.controller.alerts;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Renders an alert event into the JSON body a webhook target expects. */
public final class WebhookPayloads {
    /** Alerts and payloads as JSON: ISO-8601 instants, not epoch numbers. */
    static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

    // limits of the receiving APIs: longer values are refused there, so they are cut here
    private static final int PD_SUMMARY_MAX = 1024;
    private static final int PD_DEDUP_MAX = 255;
    private static final int SLACK_HEADER_MAX = 150;
    private static final int SLACK_TEXT_MAX = 3000;
    private static final int SLACK_FIELD_MAX = 2000;
    private static final int SLACK_FIELDS_PER_SECTION = 10;
    private static final int SLACK_DETAIL_FIELDS_MAX = 20;

    private WebhookPayloads() {}

    public enum Event {
        RAISED,
        RESOLVED;

        public String wire() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Event ofWire(String s) {
            return valueOf(s.toUpperCase(Locale.ROOT));
        }
    }

    /** The request body for {@code target}, UTF-8 JSON. */
    public static byte[] render(WebhookTarget target, Alert alert, Event event) {
        ObjectNode body = switch (target.format()) {
            case GENERIC_JSON -> generic(alert, event);
            case PAGERDUTY_EVENTS_V2 -> pagerDuty(target.routingKey(), alert, event);
            case SLACK -> slack(alert, event);
        };
        try {
            return JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(
                    "alert " + alert.id() + " cannot be written as JSON: " + e.getOriginalMessage(), e);
        }
    }

    static ObjectNode generic(Alert alert, Event event) {
        ObjectNode n = JSON.valueToTree(alert);
        n.put("event", event.wire());
        return n;
    }

    static ObjectNode pagerDuty(String routingKey, Alert alert, Event event) {
        ObjectNode n = JSON.createObjectNode();
        n.put("routing_key", routingKey);
        n.put("event_action", event == Event.RAISED ? "trigger" : "resolve");
        n.put("dedup_key", cut(alert.id(), PD_DEDUP_MAX));
        // PagerDuty reads payload on trigger only; resolve needs just the key
        if (event == Event.RAISED) {
            ObjectNode p = n.putObject("payload");
            p.put("summary", cut(alert.summary(), PD_SUMMARY_MAX));
            p.put("source", source(alert));
            p.put("severity", alert.severity());
            p.put("timestamp", alert.raisedAt().toString());
            if (alert.database() != null) {
                p.put("component", alert.database());
            }
            if (alert.region() != null) {
                p.put("group", alert.region());
            }
            p.put("class", alert.kind());
            p.set("custom_details", JSON.valueToTree(alert.details()));
        }
        n.put("client", "Lifeboat");
        return n;
    }

    private static String source(Alert alert) {
        if (alert.database() != null && alert.region() != null) {
            return alert.database() + "@" + alert.region();
        }
        if (alert.database() != null) {
            return alert.database();
        }
        return alert.region() != null ? alert.region() : "lifeboat-controller";
    }

    static ObjectNode slack(Alert alert, Event event) {
        boolean resolved = event == Event.RESOLVED;
        String icon = resolved
                ? ":white_check_mark:"
                : alert.severity().equals("critical") ? ":rotating_light:" : ":warning:";
        String state = resolved ? "RESOLVED" : alert.severity().toUpperCase(Locale.ROOT);
        String where = alert.database() == null && alert.region() == null
                ? ""
                : " (" + (alert.database() == null ? "" : alert.database())
                        + (alert.database() != null && alert.region() != null ? " @ " : "")
                        + (alert.region() == null ? "" : alert.region()) + ")";

        ObjectNode n = JSON.createObjectNode();
        // text is what notifications and clients without blocks show
        n.put("text", cut(icon + " [" + state + "] " + alert.kind() + where + ": " + alert.summary(), SLACK_TEXT_MAX));
        ArrayNode blocks = n.putArray("blocks");

        ObjectNode header = blocks.addObject();
        header.put("type", "header");
        ObjectNode ht = header.putObject("text");
        ht.put("type", "plain_text");
        ht.put("text", cut(state + ": " + alert.kind() + where, SLACK_HEADER_MAX));

        ObjectNode summary = blocks.addObject();
        summary.put("type", "section");
        mrkdwn(summary.putObject("text"), cut(icon + " " + escape(alert.summary()), SLACK_TEXT_MAX));

        List<String[]> fields = new ArrayList<>();
        fields.add(new String[] {"Severity", alert.severity()});
        fields.add(new String[] {"Kind", alert.kind()});
        if (alert.database() != null) {
            fields.add(new String[] {"Database", alert.database()});
        }
        if (alert.region() != null) {
            fields.add(new String[] {"Region", alert.region()});
        }
        fields.add(new String[] {"Raised", alert.raisedAt().toString()});
        if (resolved) {
            Instant at = alert.resolvedAt();
            fields.add(new String[] {"Resolved", at == null ? "yes" : at.toString()});
        }
        int details = 0;
        for (Map.Entry<String, Object> d : alert.details().entrySet()) {
            if (details++ == SLACK_DETAIL_FIELDS_MAX) {
                fields.add(new String[] {
                    "…", (alert.details().size() - SLACK_DETAIL_FIELDS_MAX) + " more details in the API"
                });
                break;
            }
            fields.add(new String[] {d.getKey(), String.valueOf(d.getValue())});
        }
        for (int i = 0; i < fields.size(); i += SLACK_FIELDS_PER_SECTION) {
            ObjectNode section = blocks.addObject();
            section.put("type", "section");
            ArrayNode fs = section.putArray("fields");
            for (String[] f : fields.subList(i, Math.min(fields.size(), i + SLACK_FIELDS_PER_SECTION))) {
                mrkdwn(fs.addObject(), cut("*" + escape(f[0]) + "*\n" + escape(f[1]), SLACK_FIELD_MAX));
            }
        }

        ObjectNode context = blocks.addObject();
        context.put("type", "context");
        mrkdwn(context.putArray("elements").addObject(), "Lifeboat alert `" + escape(alert.id()) + "`");
        return n;
    }

    private static void mrkdwn(ObjectNode node, String text) {
        node.put("type", "mrkdwn");
        node.put("text", text);
    }

    /** Slack mrkdwn needs only these three escaped. */
    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    private static String cut(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }
}
