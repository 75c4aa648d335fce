package dev.kiln.images;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Images by digest under {@code <state>/images/<digest>/}, names under {@code images/names/}. An
 * image enters the store by one atomic rename of a complete, digested directory, and a name is
 * moved to it only afterwards: a VM never sees a half-written image.
 */
public final class ImageStore {
    private static final String MANIFEST = "manifest.json";

    private final Path imagesDir;

    public ImageStore(Path imagesDir) {
        this.imagesDir = imagesDir;
    }

    public Path directory(ImageManifest image) {
        return image.directory(imagesDir);
    }

    public Path file(ImageManifest image, String name) {
        return directory(image).resolve(name);
    }

    /** Finds an image by name, by full digest, or by a unique digest prefix of at least 6 characters. */
    public ImageManifest resolve(String reference) {
        Path named = namesDir().resolve(reference);
        if (!reference.contains("/") && Files.isRegularFile(named)) {
            return load(readString(named).strip()).orElseThrow(() -> new KilnException(ErrorCode.IMAGE_INVALID,
                    "image name '%s' points at a digest that is not in %s; rebuild it with `kiln image build %s`"
                            .formatted(reference, imagesDir, reference)));
        }
        String prefix = reference.startsWith("sha256:") ? reference : "sha256:" + reference;
        List<ImageManifest> matches = list().stream().filter(image -> image.digest().startsWith(prefix)).toList();
        if (reference.length() >= 6 && matches.size() == 1) {
            return matches.getFirst();
        }
        if (matches.size() > 1) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT,
                    "image '%s' matches %d digests; give more of the digest".formatted(reference, matches.size()));
        }
        List<String> names = names();
        throw new KilnException(ErrorCode.IMAGE_NOT_FOUND, "no image '%s' in %s (%s); build one with `kiln image build %s`"
                .formatted(reference, imagesDir, names.isEmpty() ? "no images yet" : "images: " + String.join(", ", names),
                        reference.matches("[a-z0-9-]+") ? reference : "default"));
    }

    /**
     * The name an image of a recipe is stored under for an architecture: the recipe's own name for
     * x86_64 ({@code default}), the name and the architecture for others ({@code default-arm64}).
     */
    public static String nameFor(String name, Arch arch) {
        requireNonNull(name, "name is null");
        return arch == Arch.X86_64 || arch == Arch.ANY ? name : name + "-" + arch.id();
    }

    /**
     * Finds the image a VM of this architecture boots for a reference: a name is first looked up as
     * that architecture's ({@link #nameFor}); whatever is found must be of that architecture.
     */
    public ImageManifest resolve(String reference, Arch arch) {
        requireNonNull(arch, "arch is null");
        Optional<ImageManifest> own = reference.contains("/") ? Optional.empty() : findByName(nameFor(reference, arch));
        return own.orElseGet(() -> resolve(reference)).requireArch(arch);
    }

    public Optional<ImageManifest> findByName(String name) {
        Path named = namesDir().resolve(name);
        return Files.isRegularFile(named) ? load(readString(named).strip()) : Optional.empty();
    }

    public List<ImageManifest> list() {
        List<ImageManifest> images = new ArrayList<>();
        if (!Files.isDirectory(imagesDir)) {
            return images;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(imagesDir, "sha256-*")) {
            for (Path dir : dirs) {
                load(dir.getFileName().toString().replaceFirst("-", ":")).ifPresent(images::add);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return images;
    }

    /** Names pointing at each digest. */
    public Map<String, List<String>> namesByDigest() {
        Map<String, List<String>> result = new TreeMap<>();
        for (String name : names()) {
            result.computeIfAbsent(readString(namesDir().resolve(name)).strip(), d -> new ArrayList<>()).add(name);
        }
        return result;
    }

    private List<String> names() {
        if (!Files.isDirectory(namesDir())) {
            return List.of();
        }
        try (var stream = Files.list(namesDir())) {
            return stream.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Optional<ImageManifest> load(String digest) {
        Path manifest = imagesDir.resolve(digest.replace(':', '-')).resolve(MANIFEST);
        try {
            return Optional.of(ManifestJson.read(Files.readAllBytes(manifest)));
        } catch (IOException e) {
            if (e instanceof NoSuchFileException || !Files.exists(manifest)) {
                return Optional.empty();
            }
            throw new KilnException(ErrorCode.IMAGE_INVALID, "manifest " + manifest + " is unreadable: " + e.getMessage()
                    + "; rebuild the image with `kiln image build`", e);
        }
    }

    /**
     * Digests a finished build directory, writes its manifest and moves it into the store under
     * its digest, then points the name at it.
     */
    public ImageManifest add(Path builtDir, String name, String version, String arch, String recipeDigest,
            ImageManifest.Kernel kernel, String runnerVersion, String runnerInstalledOn) {
        ImageManifest manifest = store(builtDir, name, version, arch, recipeDigest, kernel, runnerVersion, runnerInstalledOn);
        moveName(name, manifest.digest());
        return manifest;
    }

    /**
     * Digests a finished build directory, writes its manifest and moves it into the store under its digest,
     * leaving every name where it is: the image pipeline boots it first and moves the name with {@link #moveName}.
     */
    public ImageManifest store(Path builtDir, String name, String version, String arch, String recipeDigest,
            ImageManifest.Kernel kernel, String runnerVersion, String runnerInstalledOn) {
        Map<String, ImageManifest.FileEntry> files = new TreeMap<>();
        for (String file : List.of(ImageManifest.KERNEL, ImageManifest.INITRD, ImageManifest.ROOTFS)) {
            Path path = builtDir.resolve(file);
            if (file.equals(ImageManifest.INITRD) && !Files.exists(path)) {
                continue; // Kiln's own kernel boots without one
            }
            try {
                files.put(file, new ImageManifest.FileEntry(Sha256.of(path), Files.size(path)));
            } catch (IOException e) {
                throw new KilnException(ErrorCode.IMAGE_BUILD_FAILED, "the build left no " + path, e);
            }
        }
        String digest = digestOf(name, arch, files);
        ImageManifest manifest = new ImageManifest(name, version, arch, digest, recipeDigest, kernel, files,
                runnerVersion, runnerInstalledOn);
        try {
            Files.write(builtDir.resolve(MANIFEST), ManifestJson.write(manifest));
            // The VMM runs unprivileged and reads the image; only root may change it.
            Files.setPosixFilePermissions(builtDir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            Path target = manifest.directory(imagesDir);
            if (Files.exists(target)) {
                FileTrees.delete(builtDir);
            } else {
                Files.move(builtDir, target, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            throw new KilnException(ErrorCode.IMAGE_BUILD_FAILED, "cannot store image " + name + ": " + e.getMessage(), e);
        }
        return manifest;
    }

    /**
     * Points {@code name} at a stored image (its former digest goes to the name's history, for {@link #rollback}) and
     * forgets the name's last failed build.
     */
    public void moveName(String name, String digest) {
        if (load(digest).isEmpty()) {
            throw new KilnException(ErrorCode.IMAGE_NOT_FOUND, "cannot point " + name + " at " + digest + ": no such image in "
                    + imagesDir);
        }
        try {
            pointName(name, digest);
            Files.deleteIfExists(failureFile(name));
        } catch (IOException e) {
            throw new KilnException(ErrorCode.IMAGE_BUILD_FAILED, "cannot point " + name + " at " + digest + ": "
                    + e.getMessage(), e);
        }
    }

    /** An image's digest: of its name, arch and its files' digests, so it names the bytes. */
    static String digestOf(String name, String arch, Map<String, ImageManifest.FileEntry> files) {
        StringBuilder canonical = new StringBuilder(name).append('\n').append(arch).append('\n');
        new TreeMap<>(files).forEach((file, entry) -> canonical.append(file).append(' ').append(entry.sha256()).append('\n'));
        return "sha256:" + Sha256.of(canonical.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /**
     * Fetches the image with this digest from a source unless it is here already. Every byte is
     * checked against the manifest, and the manifest against the digest asked for, before the
     * image enters the store by one atomic rename: a VM never sees a partial or altered image.
     */
    public ImageManifest fetch(String digest, ImageSource source) {
        Optional<ImageManifest> present = load(digest);
        if (present.isPresent()) {
            return present.get();
        }
        Path temp = null;
        try {
            ImageManifest manifest = source.manifest(digest);
            String claimed = digestOf(manifest.name(), manifest.arch(), manifest.files());
            if (!claimed.equals(digest) || !manifest.digest().equals(digest)) {
                throw new KilnException(ErrorCode.IMAGE_INVALID, "the manifest served for %s describes %s; refusing it"
                        .formatted(digest, claimed));
            }
            Files.createDirectories(imagesDir);
            temp = Files.createTempDirectory(imagesDir, ".fetch-");
            for (var file : manifest.files().entrySet()) {
                Path target = temp.resolve(file.getKey());
                try (InputStream in = source.open(digest, file.getKey())) {
                    Files.copy(in, target);
                }
                String actual = Sha256.of(target);
                long size = Files.size(target);
                if (!actual.equals(file.getValue().sha256()) || size != file.getValue().size()) {
                    throw new KilnException(ErrorCode.IMAGE_INVALID, ("image %s (%s): %s arrived with %d bytes and"
                            + " digest %s; the manifest says %d bytes, %s. The store is unchanged").formatted(
                            manifest.name(), manifest.shortDigest(), file.getKey(), size, actual,
                            file.getValue().size(), file.getValue().sha256()));
                }
            }
            Files.write(temp.resolve(MANIFEST), ManifestJson.write(manifest));
            Files.setPosixFilePermissions(temp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            Path target = manifest.directory(imagesDir);
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
                temp = null;
            } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException raced) {
                // another fetch of the same digest won; its bytes are the same
            }
            return load(digest).orElseThrow();
        } catch (IOException e) {
            throw new KilnException(ErrorCode.IMAGE_NOT_FOUND, "cannot fetch image " + digest + ": " + e.getMessage(), e);
        } finally {
            if (temp != null) {
                try {
                    FileTrees.delete(temp);
                } catch (IOException e) {
                    // the next fetch makes a fresh temporary directory; this one is only untidy
                    org.slf4j.LoggerFactory.getLogger(ImageStore.class).warn("cannot remove {}: {}", temp, e.getMessage());
                }
            }
        }
    }

    /** Serves this store's images to another host's {@link #fetch}. */
    public ImageSource asSource() {
        return new ImageSource() {
            @Override
            public ImageManifest manifest(String digest) throws IOException {
                return load(digest).orElseThrow(() -> new java.nio.file.NoSuchFileException("no image " + digest));
            }

            @Override
            public InputStream open(String digest, String file) throws IOException {
                ImageManifest image = manifest(digest);
                if (!image.files().containsKey(file)) {
                    throw new java.nio.file.NoSuchFileException("image " + digest + " has no file " + file);
                }
                return Files.newInputStream(file(image, file));
            }
        };
    }

    /**
     * The Debian packages the image holds ({@link ImagePackages#FILE} beside its manifest), or empty for an image built
     * before builds recorded them, or fetched from another host (the list is not one of the image's files).
     */
    public Optional<ImagePackages> packages(ImageManifest image) {
        Path file = file(image, ImagePackages.FILE);
        try {
            return Optional.of(ImagePackages.parse(Files.readString(file)));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw new KilnException(ErrorCode.IMAGE_INVALID, "image %s (%s): %s is unreadable: %s".formatted(image.name(),
                    image.shortDigest(), file, e.getMessage()), e);
        }
    }

    /** Checks that every file still has the size its manifest records (a full digest check runs at import). */
    public void checkIntact(ImageManifest image) {
        image.files().forEach((file, entry) -> {
            Path path = file(image, file);
            long size;
            try {
                size = Files.size(path);
            } catch (IOException e) {
                throw new KilnException(ErrorCode.IMAGE_INVALID,
                        "image %s (%s) lacks %s; rebuild it with `kiln image build %s`".formatted(
                                image.name(), image.shortDigest(), file, image.name()), e);
            }
            if (size != entry.size()) {
                throw new KilnException(ErrorCode.IMAGE_INVALID, "image %s (%s): %s is %d bytes, the manifest says %d"
                        .formatted(image.name(), image.shortDigest(), file, size, entry.size()));
            }
        });
    }

    /** Verifies every file against its digest. */
    public void verify(ImageManifest image) {
        image.files().forEach((file, entry) -> {
            String actual = Sha256.of(file(image, file));
            if (!actual.equals(entry.sha256())) {
                throw new KilnException(ErrorCode.IMAGE_INVALID, "image %s (%s): %s has digest %s, the manifest says %s"
                        .formatted(image.name(), image.shortDigest(), file, actual, entry.sha256()));
            }
        });
    }

    /** Removes an image and the names pointing at it. The caller checks that no VM uses it. */
    public void remove(ImageManifest image) {
        for (String name : namesByDigest().getOrDefault(image.digest(), List.of())) {
            try {
                Files.deleteIfExists(namesDir().resolve(name));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        Path dir = directory(image);
        Path doomed = dir.resolveSibling(".removing-" + dir.getFileName());
        try {
            // Renamed first, so that a crash mid-delete leaves no directory that looks like an image.
            Files.move(dir, doomed, StandardCopyOption.ATOMIC_MOVE);
            FileTrees.delete(doomed);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir, e);
        }
    }

    /** A fresh directory in the store's file system for a build, so that {@link #add} moves it in by one rename. */
    public Path newBuildDirectory(String name) throws IOException {
        Files.createDirectories(imagesDir);
        return Files.createTempDirectory(imagesDir, ".build-" + name + "-");
    }

    /**
     * Moves a name back to the digest it had before its last move (the image store keeps each name's earlier
     * digests); a second rollback goes one further back.
     */
    public ImageManifest rollback(String name) {
        Path named = namesDir().resolve(name);
        if (!Files.exists(named)) {
            throw new KilnException(ErrorCode.IMAGE_NOT_FOUND, "no image is named " + name + " in " + imagesDir);
        }
        List<String> history = history(name);
        if (history.isEmpty()) {
            throw new KilnException(ErrorCode.CONFLICT, "image " + name + " has had one digest only ("
                    + readString(named).strip() + "): there is nothing to roll back to");
        }
        String previous = history.getLast();
        ImageManifest image = load(previous).orElseThrow(() -> new KilnException(ErrorCode.IMAGE_NOT_FOUND,
                "the previous digest of " + name + ", " + previous + ", is no longer in " + imagesDir
                        + " (removed by hand?); build the image again"));
        try {
            writeAtomically(named, previous + "\n");
            writeAtomically(historyFile(name), lines(history.subList(0, history.size() - 1)));
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_COMMAND_FAILED, "cannot roll " + name + " back: " + e.getMessage(), e);
        }
        return image;
    }

    /**
     * Records that a build (or its smoke test) for a name failed: the name stays where it was, and
     * {@link #failures()} shows why until a build of that name succeeds.
     */
    public void recordFailure(String name, java.time.Instant at, String why) {
        try {
            writeAtomically(failureFile(name), at + " " + why.replace('\n', ' ').strip() + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot record the failed build of " + name + " in " + imagesDir, e);
        }
    }

    /** The last failed build of each name that has not built since: name to "INSTANT why". */
    public Map<String, String> failures() {
        Path dir = namesDir().resolve(".failed");
        if (!Files.isDirectory(dir)) {
            return Map.of();
        }
        Map<String, String> failures = new TreeMap<>();
        try (var stream = Files.list(dir)) {
            stream.filter(file -> !file.getFileName().toString().startsWith("."))
                    .forEach(file -> failures.put(file.getFileName().toString(), readString(file).strip()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return failures;
    }

    private Path failureFile(String name) {
        return namesDir().resolve(".failed").resolve(name);
    }

    /** The digests a rollback moves names back to: kept by a prune although no name points at them. */
    public java.util.Set<String> rollbackDigests() {
        java.util.Set<String> digests = new java.util.HashSet<>();
        for (String name : names()) {
            List<String> history = history(name);
            if (!history.isEmpty()) {
                digests.add(history.getLast());
            }
        }
        return digests;
    }

    /** The digest a rollback of {@code name} moves it back to, if it has one. */
    public Optional<String> previous(String name) {
        List<String> history = history(name);
        return history.isEmpty() ? Optional.empty() : Optional.of(history.getLast());
    }

    /** A name's earlier digests, oldest first. */
    private List<String> history(String name) {
        Path file = historyFile(name);
        return Files.exists(file) ? readString(file).lines().filter(line -> !line.isBlank()).toList() : List.of();
    }

    private Path historyFile(String name) {
        return namesDir().resolve(".history").resolve(name);
    }

    private static String lines(List<String> digests) {
        return digests.stream().map(digest -> digest + "\n").collect(java.util.stream.Collectors.joining());
    }

    private void pointName(String name, String digest) throws IOException {
        Path named = namesDir().resolve(name);
        if (Files.exists(named)) {
            String current = readString(named).strip();
            if (!current.equals(digest)) {
                // Written before the move: a crash between leaves one digest too many in the history, never one lost.
                List<String> history = new ArrayList<>(history(name));
                history.add(current);
                Files.createDirectories(historyFile(name).getParent());
                writeAtomically(historyFile(name), lines(history));
            }
        }
        writeAtomically(named, digest + "\n");
    }

    private void writeAtomically(Path file, String text) throws IOException {
        Files.createDirectories(file.getParent());
        Path temp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.writeString(temp, text);
        try {
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the image store needs a file system with atomic renames", e);
        }
    }

    private Path namesDir() {
        return imagesDir.resolve("names");
    }

    private static String readString(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
