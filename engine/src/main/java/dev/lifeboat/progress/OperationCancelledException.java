package dev.lifeboat.progress;

public final class OperationCancelledException extends RuntimeException {
    public OperationCancelledException(String reason) {
        super("operation cancelled: " + reason);
    }
}
