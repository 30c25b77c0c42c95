package dev.lifeboat.storage.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Run as root (as CI and many operators' restores are) on a repository another user owns, the store gives what it
 * creates to that user, so the owner's archive and recovery-end commands can still renew and delete it. Real chown on
 * real files; needs root, which CI is.
 */
class LocalBlobStoreOwnershipTest {
    @TempDir
    Path dir;

    @Test
    void filesAndDirectoriesCreatedByRootBelongToTheRepositoryOwner() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "chown needs root");
        UserPrincipalLookupService users = dir.getFileSystem().getUserPrincipalLookupService();
        UserPrincipal nobody = users.lookupPrincipalByName("nobody");
        GroupPrincipal nogroup = users.lookupPrincipalByGroupName("nogroup");
        Path root = dir.resolve("repo");
        Files.createDirectories(root);
        PosixFileAttributeView rootView = Files.getFileAttributeView(root, PosixFileAttributeView.class);
        rootView.setOwner(nobody);
        rootView.setGroup(nogroup);
        LocalBlobStore store = new LocalBlobStore(root);

        store.put("wal/00000002/000000020000000000000007", bytes("x"));
        assertThat(store.putIfAbsent("locks/replay-1", bytes("lease"))).isTrue();
        store.put("locks/replay-1", bytes("renewed"));

        for (String created :
                new String[] {"wal", "wal/00000002", "wal/00000002/000000020000000000000007", "locks", "locks/replay-1"
                }) {
            PosixFileAttributeView v = Files.getFileAttributeView(root.resolve(created), PosixFileAttributeView.class);
            assertThat(v.readAttributes().owner()).as(created).isEqualTo(nobody);
            assertThat(v.readAttributes().group()).as(created).isEqualTo(nogroup);
        }
    }

    @Test
    void aRepositoryOwnedByRootKeepsRootOwnedFiles() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "the case under test is a root process");
        Path root = dir.resolve("repo");
        LocalBlobStore store = new LocalBlobStore(root);
        store.put("config", bytes("{}"));
        UserPrincipal me = Files.getOwner(root.resolve("config"));
        assertThat(me.getName()).isEqualTo("root");
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
