package dev.kiln.agent;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.VmLaunch;
import dev.kiln.api.VmReport;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageSource;
import dev.kiln.images.ImageStore;
import dev.kiln.vm.GuestOutput;
import dev.kiln.vm.GuestSshEndpoint;
import dev.kiln.vm.VmEngine;
import dev.kiln.vm.VmResult;
import dev.kiln.vm.VmSpec;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Real microVMs: each launch runs {@link VmEngine#run} on a virtual thread of its own. The guest's
 * init marker ({@link GuestOutput#ready}) marks the VM RUNNING. VMs of a dead agent process
 * cannot be adopted (their VMM was the dead process's child): {@link #recover} removes what they left.
 */
public final class EngineVmm implements Vmm {
    private static final Logger log = LoggerFactory.getLogger(EngineVmm.class);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    private final VmEngine engine;
    private final ImageStore images;
    private final Capacity capacity;
    private final ImageSource fetchFrom;
    private final Set<String> cancelled = ConcurrentHashMap.newKeySet();
    private final Set<String> active = ConcurrentHashMap.newKeySet();

    public EngineVmm(VmEngine engine, ImageStore images, Capacity capacity) {
        this(engine, images, capacity, null);
    }

    /** @param fetchFrom where images this host lacks come from (the server), or null */
    public EngineVmm(VmEngine engine, ImageStore images, Capacity capacity, ImageSource fetchFrom) {
        this.fetchFrom = fetchFrom;
        this.engine = requireNonNull(engine, "engine is null");
        this.images = requireNonNull(images, "images is null");
        this.capacity = requireNonNull(capacity, "capacity is null");
    }

    @Override
    public Capacity capacity() {
        return capacity;
    }

    @Override
    public List<Adopted> recover(Listener listener) {
        // An agent that cannot firewall its VMs says so at its start, not at its first job.
        engine.awaitHostReady();
        engine.recoverLeftovers();
        return List.of();
    }

    @Override
    public void launch(VmLaunch launch, Listener listener) {
        if (!active.add(launch.id())) {
            return; // a repeated launch of a VM that runs already
        }
        Thread.ofVirtual().name("kiln-vm-" + launch.id()).start(() -> {
            try {
                listener.ended(launch.id(), run(launch, listener));
            } finally {
                active.remove(launch.id());
                cancelled.remove(launch.id());
            }
        });
    }

    private Ending run(VmLaunch launch, Listener listener) {
        String id = launch.id();
        VmResult result;
        try {
            // The image must be built for the VM's arch: refused here, before anything is made for the VM.
            ImageManifest image = resolveOrFetch(launch.image()).requireArch(LaunchArch.of(launch, capacity));
            Duration timeout = Duration.ofSeconds(launch.timeoutSeconds());
            // A runner VM's guest starts the image's GitHub runner with the JIT config from its config drive.
            VmSpec spec = launch.isRunner()
                    ? VmSpec.forRunner(id, image, launch.cpus(), launch.memoryMib(), launch.diskGib(), timeout,
                            launch.runnerJitConfig(), launch.env())
                    : new VmSpec(id, image, launch.cpus(), launch.memoryMib(), launch.diskGib(), timeout,
                            launch.command(), launch.env(), true);
            spec = spec.withSshAuthorizedKeys(launch.sshAuthorizedKeys());
            if (cancelled.contains(id)) {
                return Ending.failed("CANCELLED", "cancelled before it started");
            }
            String digest = image.digest();
            result = engine.run(spec, new GuestOutput() {
                /** The boot phases reached so far, each at its seconds since the VMM's start; one thread per VM. */
                private final java.util.Map<String, Double> phases = new java.util.LinkedHashMap<>();

                @Override
                public void ssh(GuestSshEndpoint endpoint) {
                    listener.ssh(id, endpoint);
                }

                @Override
                public void phase(String name, Duration sinceStart, String guestUptime) {
                    phases.putIfAbsent(name, seconds(sinceStart));
                }

                @Override
                public void ready(Duration sinceStart) {
                    listener.running(id, new VmReport.Boot(digest, seconds(sinceStart), phases));
                }

                @Override
                public void stdout(byte[] bytes, int offset, int length) {
                    emit("stdout", bytes, offset, length);
                }

                @Override
                public void stderr(byte[] bytes, int offset, int length) {
                    emit("stderr", bytes, offset, length);
                }

                private void emit(String stream, byte[] bytes, int offset, int length) {
                    listener.output(id, stream, bytes, offset, length);
                }
            });
        } catch (KilnException e) {
            log.warn("VM {} of job {} could not run: {}", id, launch.job(), e.getMessage());
            return Ending.failed(e.code().name(), e.getMessage());
        } catch (RuntimeException e) {
            log.error("VM {} of job {} failed", id, launch.job(), e);
            return Ending.failed("INTERNAL", "the agent failed running the VM: " + e);
        }
        return switch (result.outcome()) {
            case EXITED -> Ending.exited(result.exitCode().orElseThrow());
            case DEADLINE_EXCEEDED -> Ending.failed("DEADLINE_EXCEEDED", result.detail());
            case BOOT_FAILED -> Ending.failed("BOOT_FAILED", result.detail());
            case GUEST_CRASHED -> Ending.failed("GUEST_CRASHED", result.detail());
            case CANCELLED -> Ending.failed("CANCELLED", result.detail());
        };
    }

    private static double seconds(Duration duration) {
        return duration.toNanos() / 1e9;
    }

    @Override
    public long cleanupFailures() {
        return engine.cleanupFailures();
    }

    /** The image named by the launch; one this host lacks is fetched by digest and verified first. */
    private ImageManifest resolveOrFetch(String reference) {
        try {
            return images.resolve(reference);
        } catch (KilnException e) {
            if (e.code() != ErrorCode.IMAGE_NOT_FOUND || fetchFrom == null || !reference.startsWith("sha256:")) {
                throw e;
            }
            log.info("fetching image {} from the server", reference);
            return images.fetch(reference, fetchFrom);
        }
    }

    @Override
    public void cancel(String vmId) {
        cancelled.add(vmId);
        engine.cancel(vmId);
    }

    /** Stops every VM and waits for each one's cleanup. */
    @Override
    public void close() {
        active.forEach(cancelled::add);
        if (!engine.stopAll(STOP_TIMEOUT)) {
            log.warn("some VMs were still stopping after {} s", STOP_TIMEOUT.toSeconds());
        }
    }
}
