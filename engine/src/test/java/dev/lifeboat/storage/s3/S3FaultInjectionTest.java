package dev.lifeboat.storage.s3;

import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStores;
import dev.lifeboat.storage.FaultInjectionContract;
import dev.lifeboat.storage.StoreOptions;
import java.util.UUID;

/** Faults injected between the S3 client and S3Mock (see {@link FaultInjectionContract}). */
class S3FaultInjectionTest extends FaultInjectionContract {

    @Override
    protected String serverEndpoint() throws Exception {
        return S3MockFixture.get().endpoint;
    }

    @Override
    protected BlobStore openStore(String endpoint) throws Exception {
        S3Settings s = S3MockFixture.get()
                .settings()
                .withEndpoint(endpoint, "us-east-1", true)
                .withMaxAttempts(ATTEMPTS)
                .withTimeout(REQUEST_TIMEOUT);
        // as BlobStores.open does: the client makes one attempt per request, the stack's retry layer the others
        BlobStore backend = new S3BlobStore(S3MockFixture.BUCKET, "f-" + UUID.randomUUID() + "/repo", s);
        return BlobStores.stack(backend, StoreOptions.defaults().withRetryAttempts(s.maxAttempts()));
    }

    /**
     * S3Mock 5.2 deletes the existing object when a multipart upload to its key is aborted (seen here: put, create an
     * upload, abort, and the object is gone); Amazon S3 keeps it.
     */
    @Override
    protected boolean serverKeepsTheObjectWhenAnUploadIsAborted() {
        return false;
    }

    @Override
    protected String[] listRequest() {
        return new String[] {"GET", "list-type=2"};
    }

    @Override
    protected String[] partRequest() {
        return new String[] {"PUT", "partNumber="};
    }

    @Override
    protected String[] commitRequest() {
        return new String[] {"POST", "uploadId="};
    }
}
