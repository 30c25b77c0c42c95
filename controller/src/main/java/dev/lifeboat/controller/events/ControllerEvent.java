package dev.lifeboat.controller.events;

import java.time.Instant;
import java.util.Map;

/** One entry of the controller's event stream, e.g. {@code backup:completed} or {@code alert:raised}. */
public record ControllerEvent(long id, String name, Instant at, Map<String, Object> data) {}
