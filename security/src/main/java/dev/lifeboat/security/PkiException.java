package dev.lifeboat.security;

/**
 * A certificate or key that cannot be created, read or used, with what to do about it in the message
 * (e.g. "… expired on …: issue a new one with `lifeboat pki issue …`").
 */
public final class PkiException extends RuntimeException {
    public PkiException(String message) {
        super(message);
    }

    public PkiException(String message, Throwable cause) {
        super(message, cause);
    }
}
