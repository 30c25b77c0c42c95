package dev.lifeboat.storage.gcs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.storage.FaultInjectingProxy;
import dev.lifeboat.storage.FaultInjectingProxy.Status;
import java.io.IOException;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * {@link GcsBlobStore#putIfAbsent} on the wire. The GCS emulator ignores preconditions, so this test checks the two
 * halves
 * the store is responsible for, with a {@link FaultInjectingProxy} in front of the emulator: the upload carries
 * {@code ifGenerationMatch=0} (and a plain put does not), and a 412 Precondition Failed answer, which GCS gives when an
 * object exists, means "taken" (false), while other failures stay errors.
 */
class GcsConditionalCreateTest {

    private GcsBlobStore store(FaultInjectingProxy proxy) throws Exception {
        GcsSettings s = GcsEmulatorFixture.get().settings().withEndpoint(proxy.endpoint(), "lifeboat-test");
        return new GcsBlobStore(GcsEmulatorFixture.BUCKET, "c-" + UUID.randomUUID(), s);
    }

    @Test
    void theUploadCarriesTheDoesNotExistPrecondition() throws Exception {
        try (FaultInjectingProxy proxy = new FaultInjectingProxy(GcsEmulatorFixture.get().endpoint);
                GcsBlobStore store = store(proxy)) {
            assertThat(store.putIfAbsent("locks/small", "x".getBytes())).isTrue();
            assertThat(store.putIfAbsent("locks/large", new byte[(7 << 20) + 1]))
                    .as("a resumable upload")
                    .isTrue();
            store.put("plain", "y".getBytes());
            // the multipart upload names the object in its body; the three uploads are the only POSTs, in this order
            var posts =
                    proxy.requests().stream().filter(r -> r.startsWith("POST ")).toList();
            assertThat(posts).hasSize(3);
            assertThat(posts.get(0)).contains("uploadType=multipart").contains("ifGenerationMatch=0");
            assertThat(posts.get(1)).contains("uploadType=resumable").contains("ifGenerationMatch=0");
            assertThat(posts.get(2)).contains("uploadType=multipart").doesNotContain("ifGenerationMatch");
        }
    }

    @Test
    void preconditionFailedMeansTaken() throws Exception {
        try (FaultInjectingProxy proxy = new FaultInjectingProxy(GcsEmulatorFixture.get().endpoint);
                GcsBlobStore store = store(proxy)) {
            proxy.always("POST", "ifGenerationMatch=0", new Status(412));
            assertThat(store.putIfAbsent("locks/taken", "x".getBytes())).isFalse();
            assertThat(store.putIfAbsent("locks/taken-large", new byte[(7 << 20) + 1]))
                    .isFalse();
            assertThat(store.stat("locks/taken")).isEmpty();
            proxy.clear();
            proxy.always("POST", "ifGenerationMatch=0", new Status(403));
            assertThatThrownBy(() -> store.putIfAbsent("locks/forbidden", "x".getBytes()))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("locks/forbidden")
                    .hasMessageContaining(store.uri())
                    .hasMessageContaining("403");
        }
    }
}
