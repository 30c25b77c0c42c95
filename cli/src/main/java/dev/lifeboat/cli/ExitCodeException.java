package dev.lifeboat.cli;

/** Raised by a command that has already said what went wrong (or printed its result) and must exit with this code. */
public final class ExitCodeException extends RuntimeException {
    private final int code;

    public ExitCodeException(int code, String message) {
        super(message);
        this.code = code;
    }

    public int code() {
        return code;
    }
}
