package dev.lifeboat.storage;

import java.io.FileNotFoundException;

public final class BlobNotFoundException extends FileNotFoundException {
    public BlobNotFoundException(String storeUri, String key) {
        super("object " + key + " not found in " + storeUri);
    }
}
