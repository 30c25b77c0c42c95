package dev.lifeboat.kestra;

/** A Lifeboat job that did not complete; the message is the controller's. */
public class LifeboatJobException extends RuntimeException {
    public LifeboatJobException(String message) {
        super(message);
    }
}
