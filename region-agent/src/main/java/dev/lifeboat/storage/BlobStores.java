package dev.lifeboat.storage;

import dev.lifeboat.storage.local.LocalBlobStore;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;

/** Opens a store from a repository URI. */
public final class BlobStores {
    private BlobStores() {
    }

    public static BlobStore open(String uri) {
        if (uri == null || uri.isBlank()) {
            throw new IllegalArgumentException("no repository given: pass --repo file:///absolute/path (or set LIFEBOAT_REPO)");
        }
        URI parsed;
        try {
            parsed = new URI(uri);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("repository URI '" + uri + "' is not a valid URI: " + e.getMessage());
        }
        String scheme = parsed.getScheme();
        if (scheme == null) {
            throw new IllegalArgumentException("repository URI '" + uri + "' has no scheme; use file:///absolute/path");
        }
        return switch (scheme) {
            case "file" -> {
                String host = parsed.getAuthority();
                if (host != null && !host.isEmpty() && !host.equals("localhost")) {
                    throw new IllegalArgumentException("file repository URI must be absolute: file:///absolute/path, got '" + uri
                            + "' (it names host '" + host + "')");
                }
                if (parsed.getPath() == null || !parsed.getPath().startsWith("/")) {
                    throw new IllegalArgumentException("file repository URI must be absolute: file:///absolute/path, got '" + uri + "'");
                }
                yield new LocalBlobStore(Path.of(parsed.getPath()));
            }
            default -> throw new IllegalArgumentException("unsupported repository URI scheme '" + scheme + "' in '" + uri
                    + "'; supported: file://");
        };
    }
}
