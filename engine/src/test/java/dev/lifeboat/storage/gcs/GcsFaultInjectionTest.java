package dev.lifeboat.storage.gcs;

import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStores;
import dev.lifeboat.storage.FaultInjectionContract;
import dev.lifeboat.storage.StoreOptions;
import java.util.UUID;

/**
 * Faults injected between the GCS client and the Cloud Storage emulator (see {@link FaultInjectionContract}). The
 * client's multipart upload names the object in its body, so upload faults hit every upload. Large objects are left
 * out: the emulator finalizes a resumable upload on its first data request and does not answer the status queries the
 * client sends to resume one, so a fault in the middle of a resumable upload cannot be recovered from on it as on GCS.
 */
class GcsFaultInjectionTest extends FaultInjectionContract {

    @Override
    protected String serverEndpoint() throws Exception {
        return GcsEmulatorFixture.get().endpoint;
    }

    @Override
    protected BlobStore openStore(String endpoint) throws Exception {
        GcsSettings s = GcsEmulatorFixture.get()
                .settings()
                .withEndpoint(endpoint, "lifeboat-test")
                .withRetries(ATTEMPTS, REQUEST_TIMEOUT);
        // as BlobStores.open does: the client makes one attempt per request, the stack's retry layer the others
        BlobStore backend = new GcsBlobStore(GcsEmulatorFixture.BUCKET, "f-" + UUID.randomUUID() + "/repo", s);
        return BlobStores.stack(backend, StoreOptions.defaults().withRetryAttempts(s.maxAttempts()));
    }

    @Override
    protected String[] smallPutRequest(String key) {
        return new String[] {"POST", "uploadType=multipart"};
    }

    @Override
    protected boolean multipartUploadsCanBeTested() {
        return false;
    }

    @Override
    protected String[] listRequest() {
        return new String[] {"GET", "prefix="};
    }

    @Override
    protected String[] partRequest() {
        return new String[] {"PUT", "upload_id="};
    }

    @Override
    protected String[] commitRequest() {
        return new String[] {"PUT", "upload_id="};
    }
}
