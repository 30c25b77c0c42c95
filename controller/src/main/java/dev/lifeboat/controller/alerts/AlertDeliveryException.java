package dev.lifeboat.controller.alerts;

/** The alert outbox could not be written or read. */
public class AlertDeliveryException extends RuntimeException {
    public AlertDeliveryException(String message, Throwable cause) {
        super(message, cause);
    }
}
