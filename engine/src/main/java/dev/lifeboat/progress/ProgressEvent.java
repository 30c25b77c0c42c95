package dev.lifeboat.progress;

import java.time.Duration;
import java.time.Instant;

/**
 * One progress report of a long operation. Agents stream these; the CLI draws them as a progress bar.
 *
 * @param operation  what runs ("backup", "restore", "verify", ...)
 * @param phase      the step inside it ("copy", "wal", "validate", ...)
 * @param bytesDone  bytes processed so far in this phase
 * @param bytesTotal bytes expected in this phase, or -1 when unknown
 * @param bytesPerSecond average rate since the phase started
 * @param eta        estimated time left, or null when unknown
 */
public record ProgressEvent(
        String operation,
        String phase,
        long bytesDone,
        long bytesTotal,
        long filesDone,
        long filesTotal,
        double bytesPerSecond,
        Duration eta,
        Instant at,
        String message) {}
