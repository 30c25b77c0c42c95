package dev.lifeboat.storage.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.storage.BlobStoreContract;
import dev.lifeboat.storage.FaultInjectingProxy;
import dev.lifeboat.storage.Retention;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.ServerSideEncryption;
import software.amazon.awssdk.services.s3.model.StorageClass;

/** The store contract against a real S3 server (S3Mock in its own process); each test gets its own key prefix. */
class S3BlobStoreContractTest extends BlobStoreContract {

    @Override
    protected BlobStore openStore() throws Exception {
        return new S3BlobStore(
                S3MockFixture.BUCKET,
                "t-" + UUID.randomUUID() + "/repo",
                S3MockFixture.get().settings());
    }

    @Override
    protected int raceRounds() {
        return 10;
    }

    /**
     * S3Mock 5.2 evaluates {@code If-None-Match: *} and then stores the object without holding a lock, so two racing
     * writers can both get 200 (seen here). Amazon S3 decides conditional writes atomically; this is the test server's
     * gap.
     */
    @Override
    protected boolean conditionalCreateIsAtomic() {
        return false;
    }

    @Test
    void uriNamesBucketAndPrefix() throws Exception {
        assertThat(store.uri())
                .startsWith("s3://" + S3MockFixture.BUCKET + "/t-")
                .endsWith("/repo");
        try (S3BlobStore whole =
                new S3BlobStore(S3MockFixture.BUCKET, "", S3MockFixture.get().settings())) {
            assertThat(whole.uri()).isEqualTo("s3://" + S3MockFixture.BUCKET);
        }
    }

    @Test
    void objectsLiveUnderThePrefix() throws Exception {
        store.put("data/x", bytes("x"));
        String prefix = store.uri().substring(("s3://" + S3MockFixture.BUCKET + "/").length());
        try (S3BlobStore whole =
                new S3BlobStore(S3MockFixture.BUCKET, "", S3MockFixture.get().settings())) {
            assertThat(whole.get(prefix + "/data/x")).isEqualTo(bytes("x"));
            assertThat(whole.list(prefix + "/")).extracting(i -> i.key()).containsExactly(prefix + "/data/x");
        }
    }

    @Test
    void aMissingBucketIsAnErrorNotAMissingObject() throws Exception {
        try (S3BlobStore nowhere =
                new S3BlobStore("no-such-bucket", "", S3MockFixture.get().settings())) {
            assertThatThrownBy(() -> nowhere.put("k", bytes("x")))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("s3://no-such-bucket");
            assertThatThrownBy(() -> nowhere.list("")).isInstanceOf(IOException.class);
        }
    }

    @Test
    void settingsComeFromTheEnvironment() {
        S3Settings s = S3Settings.fromEnvironment(Map.of(
                "LIFEBOAT_S3_ENDPOINT",
                "http://127.0.0.1:9000",
                "LIFEBOAT_S3_REGION",
                "eu-west-1",
                "LIFEBOAT_S3_SSE",
                "aws:kms",
                "LIFEBOAT_S3_KMS_KEY_ID",
                "alias/backup",
                "LIFEBOAT_S3_STORAGE_CLASS",
                "STANDARD_IA"));
        assertThat(s.endpoint()).isEqualTo("http://127.0.0.1:9000");
        assertThat(s.pathStyle())
                .as("path style by default with a custom endpoint")
                .isTrue();
        assertThat(s.region()).isEqualTo("eu-west-1");
        assertThat(s.serverSideEncryption()).isEqualTo("aws:kms");
        assertThat(s.kmsKeyId()).isEqualTo("alias/backup");
        assertThat(s.storageClass()).isEqualTo("STANDARD_IA");
        assertThat(s.accessKeyId()).as("credentials are left to the SDK chain").isNull();
        assertThat(S3Settings.fromEnvironment(Map.of()).pathStyle()).isFalse();
        assertThatThrownBy(() -> S3Settings.fromEnvironment(Map.of("LIFEBOAT_S3_SSE", "rot13")))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void serverSideEncryptionAndStorageClassAreSent() throws Exception {
        S3Settings sse = new S3Settings(
                S3MockFixture.get().endpoint,
                "us-east-1",
                true,
                "test",
                "test",
                "AES256",
                null,
                "STANDARD_IA",
                6L << 20,
                S3Settings.MIN_PART_SIZE,
                2,
                3,
                S3Settings.DEFAULT_TIMEOUT,
                null,
                null);
        byte[] big = random(LARGE_OBJECT_SIZE, 9);
        String prefix = "t-" + UUID.randomUUID();
        try (S3BlobStore s = new S3BlobStore(S3MockFixture.BUCKET, prefix, sse);
                S3Client raw = S3MockFixture.get().rawClient()) {
            s.put("small", bytes("x"));
            s.put("big", big);
            assertThat(s.putIfAbsent("lock", bytes("l"))).isTrue();
            assertThat(s.get("small")).isEqualTo(bytes("x"));
            assertThat(s.get("big")).isEqualTo(big);
            // "big" is left out: S3Mock takes a multipart object's encryption from the completing request, not the
            // creating one as S3 does (the store sends it when it creates the upload)
            for (String k : List.of("small", "lock")) {
                HeadObjectResponse h =
                        raw.headObject(r -> r.bucket(S3MockFixture.BUCKET).key(prefix + "/" + k));
                assertThat(h.serverSideEncryption()).as(k).isEqualTo(ServerSideEncryption.AES256);
                assertThat(h.storageClass()).as(k).isEqualTo(StorageClass.STANDARD_IA);
            }
        }
    }

    @Test
    void createContainerMakesAMissingBucketOnceAndKeepsAnExistingOne() throws Exception {
        String name = "created-" + UUID.randomUUID().toString().substring(0, 8);
        try (S3BlobStore fresh =
                new S3BlobStore(name, "pg/main", S3MockFixture.get().settings())) {
            assertThatThrownBy(() -> fresh.put("k", bytes("v"))).hasMessageContaining("NoSuchBucket");
            assertThat(fresh.createContainer()).as("created").isTrue();
            assertThat(fresh.createContainer()).as("already there").isFalse();
            fresh.put("k", bytes("v"));
            assertThat(fresh.get("k")).isEqualTo(bytes("v"));
        }
        assertThat(store.createContainer()).as("the shared test bucket exists").isFalse();
    }

    /**
     * A write-once store's uploads, single and multipart, carry an Object Lock retention, and its bucket is created
     * with Object Lock on. Checked against the requests the SDK sends, because S3Mock records retention but does not
     * enforce it (it deletes a locked version when asked).
     */
    @Test
    void writeOnceUploadsCarryObjectLockAgainstTheRequestsBecauseS3MockDoesNotEnforceIt() throws Exception {
        try (FaultInjectingProxy proxy = new FaultInjectingProxy(S3MockFixture.get().endpoint)) {
            S3Settings locked = S3MockFixture.get()
                    .settings()
                    .withEndpoint(proxy.endpoint(), "us-east-1", true)
                    .withObjectLock(new Retention(30, "compliance"));
            String bucket = "worm-" + UUID.randomUUID().toString().substring(0, 8);
            Instant before = Instant.now();
            try (S3BlobStore worm = new S3BlobStore(bucket, "pg", locked)) {
                assertThat(worm.createContainer()).isTrue();
                worm.put("small", bytes("x"));
                worm.put("big", random(LARGE_OBJECT_SIZE, 3));
                assertThat(worm.putIfAbsent("once", bytes("y"))).isTrue();
                assertThat(worm.get("big")).hasSize(LARGE_OBJECT_SIZE);
            }
            Instant after = Instant.now();
            List<String> heads = proxy.requestHeads();
            assertThat(heads)
                    .filteredOn(h -> h.startsWith("PUT /" + bucket + " ") || h.startsWith("PUT /" + bucket + "?"))
                    .as("CreateBucket")
                    .singleElement()
                    .satisfies(h -> assertThat(h.toLowerCase()).contains("x-amz-bucket-object-lock-enabled: true"));
            List<String> uploads = heads.stream()
                    .filter(h -> (h.startsWith("PUT /" + bucket + "/pg/") && !h.contains("partNumber="))
                            || (h.startsWith("POST /" + bucket + "/pg/big?uploads")))
                    .toList();
            assertThat(uploads).as("PutObject x2, CreateMultipartUpload").hasSize(3);
            for (String h : uploads) {
                String lower = h.toLowerCase();
                assertThat(lower).contains("x-amz-object-lock-mode: compliance");
                String until = h.lines()
                        .filter(l -> l.toLowerCase().startsWith("x-amz-object-lock-retain-until-date:"))
                        .map(l -> l.substring(l.indexOf(':') + 1).strip())
                        .findFirst()
                        .orElseThrow();
                assertThat(Instant.parse(until))
                        .isBetween(
                                before.plus(Duration.ofDays(30)).minusSeconds(1),
                                after.plus(Duration.ofDays(30)).plusSeconds(1));
            }
        }
    }
}
