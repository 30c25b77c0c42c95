package dev.lifeboat.storage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.lifeboat.storage.local.LocalBlobStore;
import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ForwardingBlobStoreTest {
    @TempDir
    Path dir;

    /**
     * A method added to {@link BlobStore} must be forwarded too, or every decorator would silently run the interface's
     * default instead of the wrapped store's own. The one exception is the short put, whose default goes through the
     * decorator's own long put.
     */
    @Test
    void forwardsEveryMethodButTheShortPut() throws NoSuchMethodException {
        List<String> notForwarded = new ArrayList<>();
        for (Method m : BlobStore.class.getMethods()) {
            try {
                ForwardingBlobStore.class.getDeclaredMethod(m.getName(), m.getParameterTypes());
            } catch (NoSuchMethodException e) {
                notForwarded.add(m.getName() + m.getParameterCount());
            }
        }
        assertThat(notForwarded).containsExactly("put2");
        assertThat(BlobStore.class.getMethod("put", String.class, byte[].class).isDefault())
                .isTrue();
    }

    @Test
    void aDecoratorSeesTheShortPutThroughItsLongPut() throws IOException {
        List<String> seen = new ArrayList<>();
        BlobStore store = new ForwardingBlobStore(new LocalBlobStore(dir)) {
            @Override
            public void put(String key, byte[] data, int offset, int length) throws IOException {
                seen.add(key);
                super.put(key, data, offset, length);
            }
        };
        store.put("a", new byte[] {1, 2, 3});
        assertThat(seen).containsExactly("a");
        assertThat(store.get("a")).containsExactly(1, 2, 3);
        assertThat(store.holdsExactly("a", new byte[] {1, 2, 3})).isTrue();
        assertThat(store.stat("a")).map(BlobInfo::size).contains(3L);
        assertThat(store.list("")).extracting(BlobInfo::key).containsExactly("a");
        assertThat(store.removeStaleTemporaryFiles(Duration.ZERO)).isZero();
        assertThat(store.uri()).isEqualTo(new LocalBlobStore(dir).uri());
        store.delete("a");
        assertThat(store.stat("a")).isEmpty();
    }
}
