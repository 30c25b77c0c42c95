package dev.lifeboat.storage;

import dev.lifeboat.storage.azure.AzureBlobStore;
import dev.lifeboat.storage.azure.AzureSettings;
import dev.lifeboat.storage.faults.CrashingBlobStore;
import dev.lifeboat.storage.gcs.GcsBlobStore;
import dev.lifeboat.storage.gcs.GcsSettings;
import dev.lifeboat.storage.local.LocalBlobStore;
import dev.lifeboat.storage.s3.S3BlobStore;
import dev.lifeboat.storage.s3.S3Settings;

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
        // test hook (docs/testing.md, crash matrix): the same store unless a LIFEBOAT_CRASH_* variable is set
        return CrashingBlobStore.wrapIfRequested(switch (scheme) {
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
            case "s3" -> {
                requireContainer(parsed, uri, "s3://bucket/prefix");
                yield S3BlobStore.open(parsed, S3Settings.fromEnvironment(System.getenv()));
            }
            case "azure" -> {
                requireContainer(parsed, uri, "azure://container/prefix");
                yield AzureBlobStore.open(parsed, AzureSettings.fromEnvironment(System.getenv()));
            }
            case "gs" -> {
                requireContainer(parsed, uri, "gs://bucket/prefix");
                yield GcsBlobStore.open(parsed, GcsSettings.fromEnvironment(System.getenv()));
            }
            default -> throw new IllegalArgumentException("unsupported repository URI scheme '" + scheme + "' in '" + uri
                    + "'; supported: file://, s3://, azure://, gs://");
        });
    }

    private static void requireContainer(URI parsed, String uri, String form) {
        if (parsed.getAuthority() == null || parsed.getAuthority().isEmpty()) {
            throw new IllegalArgumentException("repository URI '" + uri + "' names no bucket or container; use " + form);
        }
    }
}
