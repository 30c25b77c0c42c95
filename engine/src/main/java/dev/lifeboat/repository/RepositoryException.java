package dev.lifeboat.repository;

/** An error a user can hit; the message says what happened and what to do. */
public class RepositoryException extends RuntimeException {
    public RepositoryException(String message) {
        super(message);
    }

    public RepositoryException(String message, Throwable cause) {
        super(message, cause);
    }

    /** No repository (no config object) at the URI. */
    public static final class NotFound extends RepositoryException {
        public NotFound(String message) {
            super(message);
        }
    }

    /** Something is at the URI, but not a Lifeboat repository of a format this version reads. */
    public static final class Foreign extends RepositoryException {
        public Foreign(String message) {
            super(message);
        }
    }

    /** The passphrase or key file does not open the repository. */
    public static final class WrongKey extends RepositoryException {
        public WrongKey(String message) {
            super(message);
        }
    }

    /** Another process holds the repository lock. */
    public static final class Locked extends RepositoryException {
        public Locked(String message) {
            super(message);
        }
    }

    /** Stored data failed an integrity check. */
    public static final class Corrupt extends RepositoryException {
        public Corrupt(String message) {
            super(message);
        }

        public Corrupt(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
