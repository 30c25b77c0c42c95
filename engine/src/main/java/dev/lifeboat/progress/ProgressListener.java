package dev.lifeboat.progress;

/** Receives progress events; must be cheap and thread-safe (called from worker threads). */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = event -> {};

    void onProgress(ProgressEvent event);
}
