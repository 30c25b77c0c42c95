package dev.lifeboat.storage.local;

import dev.lifeboat.storage.BlobInfo;
import dev.lifeboat.storage.BlobNotFoundException;
import dev.lifeboat.storage.BlobStore;
import dev.lifeboat.util.SlicedIo;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * A store on a local (or mounted) file system. Writes go to a temporary file in the target directory, are fsynced,
 * renamed into place and the directory is fsynced, so a crash never leaves a partial object under its final name.
 * <p>
 * Run as root on a repository that belongs to another user (typically {@code postgres}, whose archive and
 * recovery commands write it), every file and directory it creates is given to the repository root's owner and group:
 * otherwise a root-owned {@code locks/} or {@code wal/00000002/} would make that user's next write fail with
 * "permission denied".
 */
public final class LocalBlobStore implements BlobStore {
    private static final String TEMP_SUFFIX = ".lifeboat-tmp";
    private final Path root;
    /** Told of every directory fsync (tests observe the durability protocol through it). */
    private final Consumer<Path> onDirectorySync;
    /** The repository root's owner when this process is root and the root belongs to someone else; else null. */
    private volatile Ownership adopt;

    private volatile boolean ownershipKnown;

    private record Ownership(UserPrincipal user, GroupPrincipal group) {}

    public LocalBlobStore(Path root) {
        this(root, dir -> {});
    }

    LocalBlobStore(Path root, Consumer<Path> onDirectorySync) {
        this.root = root.toAbsolutePath().normalize();
        this.onDirectorySync = onDirectorySync;
    }

    public Path root() {
        return root;
    }

    private Path resolve(String key) {
        if (key.isEmpty() || key.startsWith("/") || key.contains("..") || key.contains("\\")) {
            throw new IllegalArgumentException("invalid object key: " + key);
        }
        return root.resolve(key);
    }

    @Override
    public void put(String key, byte[] data, int offset, int length) throws IOException {
        Path target = resolve(key);
        Path temp = writeTemp(target, data, offset, length);
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.deleteIfExists(temp);
            throw new IOException("file system under " + root + " does not support atomic rename", e);
        } catch (IOException e) {
            Files.deleteIfExists(temp);
            throw e;
        }
        fsyncDirectory(target.getParent());
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        Path target = resolve(key);
        Path temp = writeTemp(target, data, 0, data.length);
        try {
            // a hard link fails atomically if the name exists: a POSIX conditional create of a complete file
            Files.createLink(target, temp);
            fsyncDirectory(target.getParent());
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    private Path writeTemp(Path target, byte[] data, int offset, int length) throws IOException {
        Path dir = target.getParent();
        createDirectoriesDurably(dir);
        Path temp = dir.resolve("." + target.getFileName() + "." + UUID.randomUUID() + TEMP_SUFFIX);
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            SlicedIo.write(ch, data, offset, length);
            ch.force(true);
            giveToRepositoryOwner(temp);
        } catch (IOException e) {
            Files.deleteIfExists(temp);
            throw e;
        }
        return temp;
    }

    /**
     * Creates {@code dir} and its missing ancestors and makes each new directory entry durable. A new directory
     * exists after a crash only if the directory holding its name was fsynced: fsyncing {@code dir} itself (after the
     * rename) keeps the object's name but not {@code dir}'s own entry in its parent, and fsyncing only the deepest
     * parent leaves every higher new directory (say {@code wal/00000002/} under a new {@code wal/}) to the file
     * system's mercy, so a crash could lose a whole subtree of objects whose put had returned. Hence: fsync the
     * deepest existing ancestor and every created directory except the deepest (whose entries are synced after the
     * rename), from the top down. A directory another writer created meanwhile is synced as well, which is harmless.
     */
    private void createDirectoriesDurably(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        Deque<Path> missing = new ArrayDeque<>();
        Path existing = dir;
        while (existing != null && !Files.isDirectory(existing)) {
            missing.push(existing);
            existing = existing.getParent();
        }
        Files.createDirectories(dir);
        for (Path created : missing) {
            giveToRepositoryOwner(created);
        }
        fsyncDirectory(existing);
        for (Path created : missing) {
            if (!created.equals(dir)) {
                fsyncDirectory(created);
            }
        }
    }

    /** Chowns a path this process created to the repository root's owner, when {@link #adopt} says so. */
    private void giveToRepositoryOwner(Path created) throws IOException {
        Ownership o = ownership();
        if (o == null) {
            return;
        }
        PosixFileAttributeView view = Files.getFileAttributeView(created, PosixFileAttributeView.class);
        view.setOwner(o.user());
        view.setGroup(o.group());
    }

    /**
     * Read once, after the root exists (repo-init creates it): null unless this process runs as root, the file
     * system is POSIX and the root belongs to another user.
     */
    private Ownership ownership() throws IOException {
        if (ownershipKnown) {
            return adopt;
        }
        if (!"root".equals(System.getProperty("user.name"))) {
            ownershipKnown = true;
            return null;
        }
        if (!Files.isDirectory(root)) {
            return null; // asked again once the root exists
        }
        PosixFileAttributeView view = Files.getFileAttributeView(root, PosixFileAttributeView.class);
        Ownership o = null;
        if (view != null) {
            PosixFileAttributes a = view.readAttributes();
            if (!"root".equals(a.owner().getName())) {
                o = new Ownership(a.owner(), a.group());
            }
        }
        adopt = o;
        ownershipKnown = true;
        return o;
    }

    private void fsyncDirectory(Path dir) throws IOException {
        if (dir == null) {
            return;
        }
        onDirectorySync.accept(dir);
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    @Override
    public byte[] get(String key) throws IOException {
        try {
            return SlicedIo.readAll(resolve(key));
        } catch (NoSuchFileException e) {
            throw new BlobNotFoundException(uri(), key);
        }
    }

    @Override
    public byte[] getRange(String key, long offset, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(resolve(key), StandardOpenOption.READ)) {
            byte[] out = new byte[length];
            if (SlicedIo.read(ch, out, 0, length, offset) < length) {
                throw new EOFException(
                        "object " + key + " in " + uri() + " is shorter than " + (offset + length) + " bytes");
            }
            return out;
        } catch (NoSuchFileException e) {
            throw new BlobNotFoundException(uri(), key);
        }
    }

    @Override
    public InputStream open(String key) throws IOException {
        try {
            return Files.newInputStream(resolve(key));
        } catch (NoSuchFileException e) {
            throw new BlobNotFoundException(uri(), key);
        }
    }

    @Override
    public Optional<BlobInfo> stat(String key) throws IOException {
        Path p = resolve(key);
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            if (!a.isRegularFile()) {
                return Optional.empty();
            }
            return Optional.of(new BlobInfo(key, a.size(), a.lastModifiedTime().toInstant()));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    @Override
    public List<BlobInfo> list(String prefix) throws IOException {
        // walk only the deepest directory the prefix names, then filter by the remaining name prefix
        int slash = prefix.lastIndexOf('/');
        String dirPart = slash < 0 ? "" : prefix.substring(0, slash);
        Path dir = dirPart.isEmpty() ? root : resolve(dirPart);
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<BlobInfo> out = new ArrayList<>();
        // a visitor rather than Files.walk: entries renamed or deleted by concurrent writers mid-walk are skipped, not
        // fatal
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path p, BasicFileAttributes a) {
                if (a.isRegularFile() && !p.getFileName().toString().endsWith(TEMP_SUFFIX)) {
                    String key = root.relativize(p).toString();
                    if (key.startsWith(prefix)) {
                        out.add(new BlobInfo(key, a.size(), a.lastModifiedTime().toInstant()));
                    }
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path p, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw e;
            }
        });
        out.sort(Comparator.comparing(BlobInfo::key));
        return out;
    }

    @Override
    public void delete(String key) throws IOException {
        Path p = resolve(key);
        if (Files.deleteIfExists(p)) {
            fsyncDirectory(p.getParent());
        }
    }

    /** Removes temporary files left by writers that crashed (only those older than the given age). */
    @Override
    public int removeStaleTemporaryFiles(Duration olderThan) throws IOException {
        if (!Files.isDirectory(root)) {
            return 0;
        }
        long cutoff = System.currentTimeMillis() - olderThan.toMillis();
        int removed = 0;
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                if (p.getFileName().toString().endsWith(TEMP_SUFFIX)
                        && Files.getLastModifiedTime(p).toMillis() < cutoff
                        && Files.deleteIfExists(p)) {
                    removed++;
                }
            }
        }
        return removed;
    }

    @Override
    public String uri() {
        return "file://" + root;
    }

    @Override
    public boolean createContainer() throws IOException {
        if (Files.isDirectory(root)) {
            return false;
        }
        createDirectoriesDurably(root);
        return true;
    }
}
