package dev.lifeboat.storage.azure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.models.BlockListType;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStoreContract;
import java.io.IOException;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The store contract against a real Azure Blob server (Azurite in its own process); each test gets its own prefix. */
class AzureBlobStoreContractTest extends BlobStoreContract {

    @Override
    protected BlobStore openStore() throws Exception {
        return new AzureBlobStore(
                AzuriteFixture.CONTAINER,
                "t-" + UUID.randomUUID() + "/repo",
                AzuriteFixture.get().settings());
    }

    @Override
    protected int raceRounds() {
        return 10;
    }

    @Test
    void uriNamesContainerAndPrefix() throws Exception {
        assertThat(store.uri())
                .startsWith("azure://" + AzuriteFixture.CONTAINER + "/t-")
                .endsWith("/repo");
        assertThat(new AzureBlobStore(
                                AzuriteFixture.CONTAINER,
                                "/",
                                AzuriteFixture.get().settings())
                        .uri())
                .isEqualTo("azure://" + AzuriteFixture.CONTAINER);
    }

    @Test
    void largeObjectsAreCommittedAsSeveralBlocks() throws Exception {
        store.put("big", random(LARGE_OBJECT_SIZE, 7));
        String name = store.uri().substring(("azure://" + AzuriteFixture.CONTAINER + "/").length()) + "/big";
        BlobContainerClient raw = AzuriteFixture.get().rawClient().getBlobContainerClient(AzuriteFixture.CONTAINER);
        assertThat(raw.getBlobClient(name)
                        .getBlockBlobClient()
                        .listBlocks(BlockListType.COMMITTED)
                        .getCommittedBlocks())
                .hasSize(3);
        store.put("small", bytes("x"));
        assertThat(raw.getBlobClient(name.replace("/big", "/small"))
                        .getBlockBlobClient()
                        .listBlocks(BlockListType.COMMITTED)
                        .getCommittedBlocks())
                .as("one Put Blob, no blocks")
                .isEmpty();
    }

    @Test
    void aMissingContainerIsAnErrorNotAMissingObject() throws Exception {
        try (AzureBlobStore nowhere =
                new AzureBlobStore("no-such-container", "", AzuriteFixture.get().settings())) {
            assertThatThrownBy(() -> nowhere.put("k", bytes("x")))
                    .isInstanceOf(IOException.class)
                    .isNotInstanceOf(BlobNotFoundException.class)
                    .hasMessageContaining("azure://no-such-container");
            assertThatThrownBy(() -> nowhere.get("k"))
                    .isInstanceOf(IOException.class)
                    .isNotInstanceOf(BlobNotFoundException.class);
            assertThatThrownBy(() -> nowhere.putIfAbsent("k", bytes("x"))).isInstanceOf(IOException.class);
        }
    }

    @Test
    void settingsComeFromTheEnvironment() {
        AzureSettings s =
                AzureSettings.fromEnvironment(Map.of("AZURE_STORAGE_ACCOUNT", "acct", "AZURE_STORAGE_KEY", "a2V5"));
        assertThat(s.effectiveEndpoint()).isEqualTo("https://acct.blob.core.windows.net");
        assertThat(s.toString()).doesNotContain("a2V5");
        AzureSettings cs =
                AzureSettings.fromEnvironment(Map.of("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true"));
        assertThat(cs.effectiveEndpoint()).as("from the connection string").isNull();
        AzureSettings sas = AzureSettings.fromEnvironment(Map.of(
                "LIFEBOAT_AZURE_ENDPOINT",
                "https://x.blob.core.windows.net",
                "AZURE_STORAGE_SAS_TOKEN",
                "sv=2024&sig=abc"));
        assertThat(sas.effectiveEndpoint()).isEqualTo("https://x.blob.core.windows.net");
        assertThatThrownBy(() -> AzureSettings.fromEnvironment(Map.of()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("AZURE_STORAGE_CONNECTION_STRING");
        assertThatThrownBy(() -> AzureSettings.fromEnvironment(Map.of("AZURE_STORAGE_ACCOUNT", "acct")))
                .as("an account and no secret: refused, never a silent fallback to the host's identity")
                .hasMessageContaining("needs credentials")
                .hasMessageContaining("LIFEBOAT_AZURE_AUTH=entra-id");
        AzureSettings entra = AzureSettings.fromEnvironment(
                Map.of("AZURE_STORAGE_ACCOUNT", "acct", "LIFEBOAT_AZURE_AUTH", "entra-id"));
        assertThat(entra.usesEntraId()).isTrue();
        assertThat(entra.effectiveEndpoint()).isEqualTo("https://acct.blob.core.windows.net");
        assertThat(entra.toString()).contains("Entra ID");
        assertThat(sas.usesEntraId()).isFalse();
        assertThatThrownBy(() -> AzureSettings.fromEnvironment(Map.of(
                        "LIFEBOAT_AZURE_ENDPOINT",
                        "HTTP://127.0.0.1:10000/acct",
                        "AZURE_STORAGE_ACCOUNT",
                        "acct",
                        "LIFEBOAT_AZURE_AUTH",
                        "entra-id")))
                .as("a token is never sent in the clear")
                .hasMessageContaining("not https")
                .hasMessageContaining("Entra ID");
        assertThatThrownBy(() -> AzureSettings.fromEnvironment(
                        Map.of("AZURE_STORAGE_ACCOUNT", "acct", "LIFEBOAT_AZURE_AUTH", "managed")))
                .hasMessageContaining("the only value is entra-id");
        assertThatThrownBy(() -> AzureSettings.fromEnvironment(Map.of(
                        "AZURE_STORAGE_ACCOUNT",
                        "acct",
                        "AZURE_STORAGE_KEY",
                        "a2V5",
                        "LIFEBOAT_AZURE_AUTH",
                        "entra-id")))
                .hasMessageContaining("not both");
    }

    @Test
    void aConnectionStringWorksToo() throws Exception {
        String cs = "DefaultEndpointsProtocol=http;AccountName=" + AzuriteFixture.ACCOUNT + ";AccountKey="
                + AzuriteFixture.KEY + ";BlobEndpoint=" + AzuriteFixture.get().endpoint + ";";
        AzureSettings s = AzureSettings.fromEnvironment(Map.of("AZURE_STORAGE_CONNECTION_STRING", cs));
        try (AzureBlobStore other = new AzureBlobStore(AzuriteFixture.CONTAINER, "t-" + UUID.randomUUID(), s)) {
            other.put("k", bytes("v"));
            assertThat(other.get("k")).isEqualTo(bytes("v"));
        }
    }

    @Test
    void createContainerMakesAMissingContainerOnceAndKeepsAnExistingOne() throws Exception {
        String name = "created-" + UUID.randomUUID().toString().substring(0, 8);
        try (AzureBlobStore fresh =
                new AzureBlobStore(name, "pg/main", AzuriteFixture.get().settings())) {
            assertThatThrownBy(() -> fresh.put("k", bytes("v"))).hasMessageContaining("ContainerNotFound");
            assertThat(fresh.createContainer()).as("created").isTrue();
            assertThat(fresh.createContainer()).as("already there").isFalse();
            fresh.put("k", bytes("v"));
            assertThat(fresh.get("k")).isEqualTo(bytes("v"));
        }
    }

    @Test
    void anEndpointByAddressWithoutTheAccountPathIsRefusedSayingSo() throws Exception {
        String bare = AzuriteFixture.get().endpoint.replaceAll("/" + AzuriteFixture.ACCOUNT + "/?$", "");
        assertThat(bare).doesNotContain(AzuriteFixture.ACCOUNT);
        assertThatThrownBy(() -> AzureSettings.sharedKey(bare, AzuriteFixture.ACCOUNT, AzuriteFixture.KEY))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("names no storage account")
                .hasMessageContaining(bare + "/" + AzuriteFixture.ACCOUNT);
        assertThatThrownBy(() -> AzureSettings.sharedKey("http://localhost:10000/", "acct", AzuriteFixture.KEY))
                .hasMessageContaining("http://localhost:10000/acct");
        // host-style endpoints carry the account in the name
        assertThat(AzureSettings.sharedKey("https://acct.blob.core.windows.net", "acct", AzuriteFixture.KEY)
                        .effectiveEndpoint())
                .isEqualTo("https://acct.blob.core.windows.net");
        assertThat(AzureSettings.sharedKey(AzuriteFixture.get().endpoint, AzuriteFixture.ACCOUNT, AzuriteFixture.KEY))
                .isNotNull();
    }
}
