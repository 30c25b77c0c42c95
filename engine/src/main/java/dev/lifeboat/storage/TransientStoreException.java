package dev.lifeboat.storage;

import java.io.IOException;
import java.util.concurrent.TimeoutException;

/**
 * A failure worth another attempt: the service was unavailable or throttled, or the connection broke or stalled.
 * Backends throw it for those causes only; the retry layer of the store stack retries nothing else (a missing object,
 * a refused credential or a missing bucket stay failures).
 */
public class TransientStoreException extends IOException {
    public TransientStoreException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Whether {@code status} is an HTTP answer that says "try again later". */
    public static boolean transientStatus(int status) {
        return status == 408 || status == 429 || status >= 500;
    }

    /** Whether {@code t} or one of its causes is a broken or stalled connection. */
    public static boolean causedByConnection(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof IOException || c instanceof TimeoutException) {
                return true;
            }
        }
        return false;
    }
}
