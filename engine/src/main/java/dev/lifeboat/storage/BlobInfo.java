package dev.lifeboat.storage;

import java.time.Instant;

public record BlobInfo(String key, long size, Instant lastModified) {}
