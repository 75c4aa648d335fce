package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageManifest;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Proves a freshly built image before its name moves to it, by booting it on this host: the guest's init reaches
 * its marker, dockerd answers, a {@code docker import} of a busybox root and a {@code docker run} of it work, and the
 * image's runner answers {@code Runner.Listener --version} with the version its manifest records (the stand-in's in
 * tests). Any other outcome is refused with what the VM printed.
 */
public final class ImageSmokeTest {
    static final String CONTAINER_OK = "kiln-smoke: a container ran";
    private static final String RUNNER_PREFIX = "kiln-smoke: runner ";
    private static final int KEPT_OUTPUT = 2000;
    private static final String SCRIPT = """
            set -eu
            echo "kiln-smoke: dockerd $(docker info --format '{{.ServerVersion}}')"
            mkdir -p /tmp/smoke/bin
            cp /bin/busybox /tmp/smoke/bin/
            ln -s busybox /tmp/smoke/bin/echo
            tar -C /tmp/smoke -c . | docker import - kiln-smoke:1 > /dev/null
            docker run --rm kiln-smoke:1 echo '%s'
            listener=/home/runner/actions-runner/bin/Runner.Listener
            if [ -e "$listener" ]; then echo "%s$("$listener" --version)"; fi
            """.formatted(CONTAINER_OK, RUNNER_PREFIX);

    private final VmEngine engine;
    private final Duration timeout;

    /** @param timeout the smoke VM's deadline, boot included (minutes under emulation) */
    public ImageSmokeTest(VmEngine engine, Duration timeout) {
        this.engine = requireNonNull(engine, "engine is null");
        this.timeout = requireNonNull(timeout, "timeout is null");
    }

    /** Boots the image once; returns what proved it, or throws with why it is refused. */
    public String check(ImageManifest image) {
        requireNonNull(image, "image is null");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        VmSpec spec = new VmSpec(VmEngine.newVmId(), image, 2, 2048, 4, timeout, List.of("sh", "-c", SCRIPT), Map.of(),
                true);
        VmResult result = engine.run(spec, new GuestOutput() {
            @Override
            public void stdout(byte[] bytes, int offset, int length) {
                keep(bytes, offset, length);
            }

            @Override
            public void stderr(byte[] bytes, int offset, int length) {
                keep(bytes, offset, length);
            }

            private synchronized void keep(byte[] bytes, int offset, int length) {
                if (out.size() < 64 * 1024) {
                    out.write(bytes, offset, length);
                }
            }
        });
        String printed;
        synchronized (out) {
            printed = out.toString(StandardCharsets.UTF_8);
        }
        return verdict(image, result, printed);
    }

    /** What proved the image, or a refusal naming the check that failed and the VM's last output. */
    static String verdict(ImageManifest image, VmResult result, String printed) {
        String tail = printed.length() > KEPT_OUTPUT ? "…" + printed.substring(printed.length() - KEPT_OUTPUT) : printed;
        String subject = "image %s (%s)".formatted(image.name(), image.shortDigest());
        if (result.exitCode().isEmpty() || result.exitCode().getAsInt() != 0) {
            throw new KilnException(ErrorCode.IMAGE_BUILD_FAILED, "smoke test of %s failed: %s %s; the VM printed: %s"
                    .formatted(subject, result.outcome(), result.detail(), tail.strip()));
        }
        if (!printed.lines().anyMatch(CONTAINER_OK::equals)) {
            throw new KilnException(ErrorCode.IMAGE_BUILD_FAILED, "smoke test of %s failed: no container ran; the VM"
                    + " printed: %s".formatted(subject, tail.strip()));
        }
        String runner = printed.lines().filter(line -> line.startsWith(RUNNER_PREFIX))
                .map(line -> line.substring(RUNNER_PREFIX.length()).strip()).findFirst().orElse(null);
        if (image.runnerVersion() != null && !image.runnerVersion().equals(runner)) {
            throw new KilnException(ErrorCode.IMAGE_BUILD_FAILED, ("smoke test of %s failed: its runner answers"
                    + " --version with %s, the image records runner %s").formatted(subject,
                    runner == null ? "nothing" : "'" + runner + "'", image.runnerVersion()));
        }
        String boot = result.timings() == null || result.timings().boot() == null ? ""
                : " in " + result.timings().boot().toMillis() + " ms";
        return "%s booted%s: dockerd answered, a container ran%s".formatted(subject, boot,
                runner == null ? "" : ", runner " + runner + " answered");
    }
}
