package dev.lifeboat.engine.postgres;

/** A PostgreSQL-side error a user can act on. */
public class PgException extends RuntimeException {
    public PgException(String message) {
        super(message);
    }

    public PgException(String message, Throwable cause) {
        super(message, cause);
    }
}
