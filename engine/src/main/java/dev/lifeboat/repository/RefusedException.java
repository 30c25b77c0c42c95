package dev.lifeboat.repository;

/**
 * The repository refuses a write that would mix two clusters or two histories of one timeline. Retrying cannot help;
 * the message names both sides and what to do.
 */
public final class RefusedException extends RepositoryException {
    public enum Reason {
        /** The data comes from another PostgreSQL system than the one the repository belongs to. */
        OTHER_SYSTEM,
        /** The timeline is archived by another cluster (e.g. production, while a restored copy pushes). */
        OTHER_TIMELINE_OWNER,
        /** The name is archived with other content (and, for a {@code .partial}, neither extends the other). */
        DIFFERENT_CONTENT,
        /** The bytes are not what the name says (no WAL page header, or one for another segment). */
        NOT_WAL
    }

    private final Reason reason;

    public RefusedException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
