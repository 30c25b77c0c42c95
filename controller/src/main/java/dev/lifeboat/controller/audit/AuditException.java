package dev.lifeboat.controller.audit;

/** The audit log could not be read or written, or its key is unusable. */
public class AuditException extends RuntimeException {
    public AuditException(String message) {
        super(message);
    }

    public AuditException(String message, Throwable cause) {
        super(message, cause);
    }

    /** The chain key file exists but does not hold a usable key. */
    public static final class BadKeyFile extends AuditException {
        public BadKeyFile(String message) {
            super(message);
        }
    }
}
