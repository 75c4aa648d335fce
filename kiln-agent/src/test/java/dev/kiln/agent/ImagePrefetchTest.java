package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.core.Arch;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** An agent's prefetch: what the server offers arrives verified; what it fetched and no longer offered goes. */
@Timeout(60)
class ImagePrefetchTest {
    @TempDir
    Path dir;

    private ImageManifest image(ImageStore store, String name, String arch, String bytes) throws IOException {
        Path out = store.newBuildDirectory(name);
        Files.writeString(out.resolve(ImageManifest.KERNEL), "kernel " + bytes);
        Files.writeString(out.resolve(ImageManifest.ROOTFS), "root " + bytes);
        return store.store(out, name, "v-" + bytes, arch, "recipe", new ImageManifest.Kernel("kiln", "6.1", "r"), null, null);
    }

    private List<String> held(ImageStore store) {
        return store.list().stream().map(ImageManifest::digest).sorted().toList();
    }

    @Test
    void fetchesWhatIsOfferedOfItsArchesAndRemovesWhatItFetchedOnceNoLongerOfferedAndUnused() throws Exception {
        ImageStore server = new ImageStore(dir.resolve("server"));
        ImageStore host = new ImageStore(dir.resolve("host"));
        ImageManifest first = image(server, "runner", "x86_64", "1");
        ImageManifest second = image(server, "runner", "x86_64", "2");
        ImageManifest third = image(server, "runner", "x86_64", "3");
        ImageManifest arm = image(server, "runner-arm64", "arm64", "4");
        ImageManifest own = image(host, "default", "x86_64", "own");
        Set<String> busy = ConcurrentHashMap.newKeySet();
        AtomicInteger reports = new AtomicInteger();
        ImagePrefetch prefetch = new ImagePrefetch(host, server.asSource(), Set.of(Arch.X86_64), dir.resolve("ledger"),
                image -> busy.contains(image.digest()));

        prefetch.want(List.of(first.digest(), arm.digest()), reports::incrementAndGet);
        await().atMost(Duration.ofSeconds(30)).until(() -> held(host).contains(first.digest()));
        assertThat(reports).hasValue(1);
        assertThat(prefetch.held()).doesNotContain(arm.digest()).as("an arch this host does not run").hasSize(2);

        busy.add(first.digest());
        prefetch.want(List.of(second.digest()), reports::incrementAndGet);
        await().atMost(Duration.ofSeconds(30)).until(() -> held(host).contains(second.digest()));
        assertThat(held(host)).as("first is used by a VM; the host's own image is not the prefetch's")
                .contains(first.digest(), own.digest());

        busy.clear();
        prefetch.want(List.of(third.digest()), reports::incrementAndGet);
        await().atMost(Duration.ofSeconds(30)).until(() -> held(host).contains(third.digest()));
        assertThat(held(host)).containsExactlyInAnyOrderElementsOf(List.of(third.digest(), own.digest()));

        // A server without a pipeline offers nothing: nothing is removed.
        prefetch.want(List.of(), reports::incrementAndGet);
        prefetch.want(null, reports::incrementAndGet);
        assertThat(held(host)).contains(third.digest());
    }
}
