package dev.lifeboat.progress;

import java.util.concurrent.atomic.AtomicReference;

/** A cooperative cancel flag that engine operations check between units of work. */
public final class Cancellation {
    private final AtomicReference<String> reason = new AtomicReference<>();

    public static Cancellation none() {
        return new Cancellation();
    }

    public void cancel(String why) {
        reason.compareAndSet(null, why == null ? "cancelled" : why);
    }

    public boolean isCancelled() {
        return reason.get() != null;
    }

    public void throwIfCancelled() {
        String why = reason.get();
        if (why != null) {
            throw new OperationCancelledException(why);
        }
    }
}
