package dev.lifeboat.storage.azure;

import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStores;
import dev.lifeboat.storage.FaultInjectionContract;
import dev.lifeboat.storage.StoreOptions;
import java.util.UUID;

/** Faults injected between the Azure client and Azurite (see {@link FaultInjectionContract}). */
class AzureFaultInjectionTest extends FaultInjectionContract {

    @Override
    protected String serverEndpoint() throws Exception {
        String endpoint = AzuriteFixture.get().endpoint;
        return endpoint.substring(0, endpoint.lastIndexOf('/'));
    }

    @Override
    protected BlobStore openStore(String endpoint) throws Exception {
        AzureSettings s = AzureSettings.sharedKey(
                        endpoint + "/" + AzuriteFixture.ACCOUNT, AzuriteFixture.ACCOUNT, AzuriteFixture.KEY)
                .withUploads(6L << 20, 5L << 20, 4)
                .withMaxTries(ATTEMPTS)
                .withTimeout(REQUEST_TIMEOUT);
        // as BlobStores.open does: the client makes one try per request, the stack's retry layer the others
        BlobStore backend = new AzureBlobStore(AzuriteFixture.CONTAINER, "f-" + UUID.randomUUID() + "/repo", s);
        return BlobStores.stack(backend, StoreOptions.defaults().withRetryAttempts(s.maxTries()));
    }

    @Override
    protected String[] listRequest() {
        return new String[] {"GET", "comp=list"};
    }

    @Override
    protected String[] partRequest() {
        return new String[] {"PUT", "blockid="};
    }

    @Override
    protected String[] commitRequest() {
        return new String[] {"PUT", "comp=blocklist"};
    }
}
