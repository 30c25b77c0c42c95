package dev.lifeboat.controller.events;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fans controller events out to subscribers (the server-sent-events stream, tests). Keeps the newest events so a client
 * that reconnects with Last-Event-ID gets what it missed.
 */
public final class EventBus {
    private static final Logger log = LoggerFactory.getLogger(EventBus.class);
    private static final int KEPT = 2000;

    private final List<Consumer<ControllerEvent>> subscribers = new CopyOnWriteArrayList<>();
    private final ArrayDeque<ControllerEvent> recent = new ArrayDeque<>();
    /** Ids keep growing across restarts (they start from the clock), so a client's Last-Event-ID from before never
     * hides new events. */
    private long nextId = System.currentTimeMillis() * 1000;

    public ControllerEvent publish(String name, Map<String, Object> data) {
        ControllerEvent e;
        synchronized (recent) {
            e = new ControllerEvent(nextId++, name, Instant.now(), data);
            recent.addLast(e);
            if (recent.size() > KEPT) {
                recent.removeFirst();
            }
            // delivered under the lock so every subscriber sees events in id order
            for (Consumer<ControllerEvent> s : subscribers) {
                try {
                    s.accept(e);
                } catch (RuntimeException ex) {
                    log.debug("event subscriber failed: {}", ex.toString());
                }
            }
        }
        return e;
    }

    /** Replays the kept events after {@code afterId}, then delivers live ones until the returned handle is closed. */
    public AutoCloseable subscribe(long afterId, Consumer<ControllerEvent> subscriber) {
        synchronized (recent) {
            for (ControllerEvent e : recent) {
                if (e.id() > afterId) {
                    subscriber.accept(e);
                }
            }
            subscribers.add(subscriber);
        }
        return () -> subscribers.remove(subscriber);
    }

    /** The id of the newest event published so far: a page rendered now subscribes after it. */
    public long latestId() {
        synchronized (recent) {
            return nextId - 1;
        }
    }

    public List<ControllerEvent> recent() {
        synchronized (recent) {
            return new ArrayList<>(recent);
        }
    }
}
