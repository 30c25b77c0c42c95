package dev.lifeboat.controller;

import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;

final class ControlPlaneWait {
    private ControlPlaneWait() {}

    static <T> T until(String what, Supplier<T> probe) throws InterruptedException {
        Instant end = Instant.now().plus(Duration.ofSeconds(20));
        while (Instant.now().isBefore(end)) {
            T v = probe.get();
            if (v != null) {
                return v;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("timed out waiting for " + what);
    }
}
