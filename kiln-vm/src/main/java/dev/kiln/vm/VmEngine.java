package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One host's microVM engine: makes a VM's resources, boots it, streams its output, enforces its
 * deadline and removes every trace of it, whatever way it ends.
 */
public final class VmEngine {
    /** The kernel's CSPRNG, read directly: SecureRandom's providers take a fresh JVM ~18 ms to set up. */
    private static final Path URANDOM = Path.of("/dev/urandom");
    private static final String DEADLINE = "deadline";
    /** How long past its deadline an orphaned VM's watchdog waits: this process, if alive, stops it first. */
    private static final Duration ORPHAN_GRACE = Duration.ofSeconds(5);

    private final EngineConfig config;
    private final VmmDriver driver;
    private final ImageStore images;
    private final HostInfo host;
    private final Clock clock;
    private final Cgroups cgroups;
    private final VmResources resources;
    private final AcceleratorChoice accelerators;
    private final HostLedger ledger;
    private final Admission admission;
    private final Map<String, AtomicBoolean> cancellations = new ConcurrentHashMap<>();
    /** VMs that only probe KVM: their failure is a verdict, not a user's VM failing. */
    private final java.util.Set<String> probes = ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicLong cleanupFailures = new java.util.concurrent.atomic.AtomicLong();

    public VmEngine(EngineConfig config, VmmDriver driver, ImageStore images, HostInfo host, Clock clock) {
        this.config = requireNonNull(config, "config is null");
        this.driver = requireNonNull(driver, "driver is null");
        this.images = requireNonNull(images, "images is null");
        this.host = requireNonNull(host, "host is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.cgroups = Cgroups.detect();
        this.resources = new VmResources(config, cgroups);
        this.accelerators = new AcceleratorChoice(config, this::probe);
        this.ledger = new HostLedger(config.ledgerDir());
        this.admission = new Admission(host, ledger, config.scratchDir());
        resources.prepareHost();
    }

    /**
     * How many VMs' resources (tap, rules, disk, cgroup, processes) this engine failed to remove when they ended, since
     * it was made: what is left is the next start's {@link #recoverLeftovers} to remove, and the operator's to look at.
     */
    public long cleanupFailures() {
        return cleanupFailures.get();
    }

    /** Removes every resource of the VM, counting a failure (the exception goes on to the VM's result). */
    private void release(VmResources.Provisioned vm) {
        try {
            resources.release(vm);
        } catch (RuntimeException e) {
            cleanupFailures.incrementAndGet();
            throw e;
        }
    }

    public static String newVmId() {
        return "vm-" + HexFormat.of().formatHex(unpredictable(6));
    }

    private static byte[] unpredictable(int count) {
        try (InputStream in = Files.newInputStream(URANDOM)) {
            return in.readNBytes(count);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + URANDOM, e);
        }
    }

    /** Waits until the host's shared network rules, made in the background, are in place. */
    public void awaitHostReady() {
        resources.awaitBaseRules();
    }

    /** Removes what VMs of killed Kiln processes left behind; returns their ids. */
    public List<String> recoverLeftovers() {
        List<String> recovered = resources.recoverLeftovers();
        if (!recovered.isEmpty()) {
            EngineWarmup.logger(VmEngine.class).info("removed the leftovers of {} VM(s) of an earlier Kiln process: {}", recovered.size(), recovered);
        }
        return recovered;
    }

    public List<String> vmsUsing(ImageManifest image) {
        return resources.vmsUsing(image.digest());
    }

    /** Live VMs of any Kiln process on this host booted from the image, without preparing the host for VMs. */
    public static List<String> vmsUsing(EngineConfig config, ImageManifest image) {
        return new VmResources(config, Cgroups.detect()).vmsUsing(image.digest());
    }

    /** Checks a spec against what this host could ever give, before anything is made. */
    public static void checkFits(HostInfo host, VmSpec spec) {
        long usable = host.memoryMib() - 512;
        if (spec.memoryMib() > usable) {
            throw new KilnException(ErrorCode.INSUFFICIENT_CAPACITY,
                    "the VM asks for %d MiB of memory; this host has %d MiB, of which %d MiB can go to VMs"
                            .formatted(spec.memoryMib(), host.memoryMib(), usable));
        }
        if (spec.cpus() > host.cpus()) {
            throw new KilnException(ErrorCode.INSUFFICIENT_CAPACITY,
                    "the VM asks for %d vCPUs; this host has %d CPUs".formatted(spec.cpus(), host.cpus()));
        }
    }

    /**
     * Runs the VM to its end, streaming the command's output; while the host is full (the VMs of every
     * Kiln process here count) it waits. Blocks; {@link #cancel} stops it.
     */
    public VmResult run(VmSpec spec, GuestOutput output) {
        return run(spec, output, true);
    }

    /** As {@link #run(VmSpec, GuestOutput)}; with {@code waitForRoom} false a full host refuses the VM at once. */
    public VmResult run(VmSpec spec, GuestOutput output, boolean waitForRoom) {
        EngineConfig.Accelerator accelerator = accelerators.choose(spec.image());
        return run(spec, output, accelerator, config.bootTimeout(), waitForRoom);
    }

    /** Stops a running VM from another thread; its {@link #run} returns CANCELLED after cleanup. */
    public void cancel(String vmId) {
        AtomicBoolean flag = cancellations.get(vmId);
        if (flag != null) {
            flag.set(true);
        }
    }

    public void cancelAll() {
        cancellations.values().forEach(flag -> flag.set(true));
    }

    /** Cancels every running VM and waits until each has been cleaned up; true if all were in time. */
    public boolean stopAll(Duration timeout) {
        cancelAll();
        Instant deadline = clock.instant().plus(timeout);
        while (!cancellations.isEmpty()) {
            if (clock.instant().isAfter(deadline)) {
                EngineWarmup.logger(VmEngine.class).warn("VMs {} were still being stopped after {}", cancellations.keySet(), format(timeout));
                return false;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** The architecture of this host: its guests of another one are emulated. */
    public static dev.kiln.core.Arch hostArch() {
        return AcceleratorChoice.HOST_ARCH;
    }

    public EngineConfig.Accelerator accelerator(ImageManifest image) {
        return accelerators.choose(image);
    }

    private VmResult run(VmSpec spec, GuestOutput output, EngineConfig.Accelerator accelerator, Duration bootTimeout,
            boolean waitForRoom) {
        checkFits(host, spec);
        images.checkIntact(spec.image());
        AtomicBoolean cancelled = new AtomicBoolean();
        cancellations.put(spec.vmId(), cancelled);
        HostLedger.Reservation room;
        try {
            room = admission.admit(spec, config.vmsDir().resolve(spec.vmId()).resolve(VmResources.SCRATCH), waitForRoom,
                    output::waiting, cancelled::get);
        } catch (RuntimeException e) {
            cancellations.remove(spec.vmId());
            throw e;
        }
        try {
            return runAdmitted(spec, output, accelerator, bootTimeout, cancelled);
        } finally {
            room.close();
            if (spec.diskGib() != ScratchDisks.KEPT_SIZE_GIB) {
                // A VM of an unusual size leaves its template behind (a sparse 200 GiB file, say) unless pruned.
                ledger.locked(live -> {
                    resources.pruneScratchTemplates(live.stream().map(HostLedger.Claim::diskGib).toList());
                    return null;
                });
            }
        }
    }

    private VmResult runAdmitted(VmSpec spec, GuestOutput output, EngineConfig.Accelerator accelerator,
            Duration bootTimeout, AtomicBoolean cancelled) {
        Instant created = clock.instant();
        // Proves a marker comes from the guest's init: the command runs as a user who cannot read it.
        String nonce = HexFormat.of().formatHex(unpredictable(8));
        VmResources.Provisioned vm;
        // A debugging shell needs the network: its sshd listens on the VM's address, for this host alone.
        GuestSsh ssh = spec.sshAuthorizedKeys().isEmpty() || !spec.network() ? null
                : new GuestSsh(SshHostKey.generate(spec.vmId()), spec.sshAuthorizedKeys());
        try {
            vm = resources.provision(spec, network -> new GuestConfig(spec.vmId(),
                    "kiln-" + spec.vmId().replaceFirst("^vm-", ""), nonce, network, spec.command(), spec.env(),
                    spec.timeout().toSeconds(), spec.runnerJitConfig(), ssh), spec.network());
        } catch (RuntimeException e) {
            cancellations.remove(spec.vmId());
            throw e;
        }
        Duration create = Duration.between(created, clock.instant());
        Process process = null;
        try {
            if (ssh != null) {
                output.ssh(new GuestSshEndpoint(config.netns(), vm.guestAddress(), GuestSshEndpoint.PORT,
                        ssh.hostKey().publicKey()));
            }
            // Without a Kiln process alive (kill -9), the VMM is stopped at this time by a watchdog of its own.
            orphanDeadline(vm, clock.instant().plus(bootTimeout.multipliedBy(BootPatience.BUSY_FACTOR)).plus(spec.timeout()));
            process = launch(spec, vm, accelerator);
            EngineWarmup.logger(VmEngine.class).debug("VM {} started ({} on {}), pid {}", spec.vmId(), driver.name(), accelerator, process.pid());
            return supervise(spec, vm, nonce, process, output, cancelled, created, create, bootTimeout);
        } finally {
            if (process != null && process.isAlive()) {
                process.destroyForcibly();
            }
            if (process != null) {
                try {
                    process.waitFor();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            release(vm);
            cancellations.remove(spec.vmId());
        }
    }

    private Process launch(VmSpec spec, VmResources.Provisioned vm, EngineConfig.Accelerator accelerator) {
        Path imageDir = images.directory(spec.image());
        String cmdline = KernelCommandLine.of(spec.image(), spec.vmId(), accelerator, host.tscKhz());
        var plan = new VmmDriver.LaunchPlan(spec.vmId(), spec.image().architecture(), imageDir.resolve(ImageManifest.KERNEL),
                spec.image().hasInitrd() ? imageDir.resolve(ImageManifest.INITRD) : null,
                imageDir.resolve(ImageManifest.ROOTFS), vm.scratchDisk(),
                vm.configDrive(), vm.tap(), mac(vm.slot()), spec.cpus(), spec.memoryMib(), vm.consoleLog(),
                vm.stderrLog(), accelerator, cmdline);
        List<String> command = new ArrayList<>(List.of("setsid", "sh", "-c",
                cgroups.joinScript(spec.vmId()) + "exec \"$@\"", "kiln-vmm"));
        command.addAll(HostCommand.inNamespace(config.netns(), List.of("setpriv", "--reuid=" + config.vmmUser(),
                "--regid=" + config.vmmUser(), "--init-groups", "--no-new-privs", "--")));
        command.addAll(driver.command(plan));
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(vm.dir().resolve("vmm.log").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        builder.environment().put("TMPDIR", vm.dir().toString());
        try {
            Process process = builder.start();
            resources.recordProcess(vm, process.toHandle());
            startWatchdog(vm, process.pid());
            return process;
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING,
                    "cannot start %s: %s (run `kiln doctor`)".formatted(driver.name(), e.getMessage()), e);
        }
    }

    /**
     * Starts the VMM's watchdog: a shell loop, in a session of its own, that outlives this process and
     * kills the VMM (if still the process started: its start time is checked) once the time in the VM's
     * deadline file has passed. Journalled like the VMM, so a VM's end (or the next start) removes it.
     */
    private void startWatchdog(VmResources.Provisioned vm, long pid) {
        String start = VmResources.startTicks(pid).orElse("gone");
        ProcessBuilder builder = new ProcessBuilder("setsid", "sh", "-c", WATCHDOG, "kiln-watchdog",
                Long.toString(pid), start, vm.dir().resolve(DEADLINE).toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        try {
            Process watchdog = builder.start();
            resources.recordProcess(vm, watchdog.toHandle());
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING,
                    "cannot start the VM's watchdog (setsid, sh): %s (run `kiln doctor`)".formatted(e.getMessage()), e);
        }
    }

    /**
     * The watchdog's loop: wakes at least every 5 s (the deadline only moves earlier, when the guest is
     * ready), leaves when the VMM is gone, kills it once the deadline has passed. POSIX sh.
     */
    private static final String WATCHDOG = """
            p=$1 started=$2 file=$3
            while :; do
              read -r stat 2>/dev/null < /proc/$p/stat || exit 0
              set -- $stat; shift 21
              [ "$1" = "$started" ] || exit 0
              read -r deadline 2>/dev/null < "$file" || exit 0
              left=$((deadline - $(date +%s)))
              if [ "$left" -le 0 ]; then kill -9 "$p"; exit 0; fi
              [ "$left" -gt 5 ] && left=5
              sleep "$left"
            done
            """;

    /** Writes when the VM's watchdog kills it: {@code at} plus a grace that lets this process do it first. */
    private static void orphanDeadline(VmResources.Provisioned vm, Instant at) {
        Path file = vm.dir().resolve(DEADLINE);
        Path temp = vm.dir().resolve(DEADLINE + ".tmp");
        try {
            Files.writeString(temp, at.plus(ORPHAN_GRACE).getEpochSecond() + "\n");
            Files.move(temp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the VM's deadline " + file, e);
        }
    }

    private VmResult supervise(VmSpec spec, VmResources.Provisioned vm, String nonce, Process process,
            GuestOutput output,
            AtomicBoolean cancelled, Instant created, Duration create, Duration bootTimeout) {
        GuestConsole console = new GuestConsole(vm.consoleLog(), vm.stderrLog(), nonce, output);
        Instant started = clock.instant();
        BootPatience patience = new BootPatience(started, bootTimeout, () -> HostLoad.busy(host.cpus()));
        Instant deadline = null;
        Instant readyAt = null;
        try {
            while (process.isAlive()) {
                process.waitFor(10, TimeUnit.MILLISECONDS);
                console.poll();
                Instant now = clock.instant();
                for (GuestConsole.Phase phase : console.takePhases()) {
                    output.phase(phase.name(), Duration.between(started, now), phase.guestUptime());
                }
                if (console.ready() && readyAt == null) {
                    readyAt = now;
                    deadline = now.plus(spec.timeout());
                    orphanDeadline(vm, deadline);
                    output.ready(Duration.between(started, now));
                }
                if (console.exitCode().isPresent()) {
                    // The guest proved the command finished and its output is out. Nothing of the VM is kept
                    // (read-only root, throwaway scratch disk), so its power-off is not worth waiting for.
                    break;
                }
                if (cancelled.get()) {
                    return end(spec, vm, process, VmResult.Outcome.CANCELLED, OptionalInt.empty(), "cancelled",
                            created, create, started, readyAt);
                }
                BootPatience.Verdict boot = readyAt == null ? patience.check(now) : BootPatience.Verdict.WAIT;
                if (boot == BootPatience.Verdict.EXTENDED) {
                    EngineWarmup.logger(VmEngine.class).info("VM {} has not booted within {} on a busy host ({}): waiting up to {} in all",
                            spec.vmId(), format(bootTimeout), patience.load(), format(patience.limit()));
                } else if (boot == BootPatience.Verdict.FAILED) {
                    String load = patience.load();
                    String why = load != null
                            ? "the guest printed no init marker within %s on a busy host (%s): retry when the host"
                                    + " is less loaded (console log: %s)"
                            : "the guest printed no init marker within %s (console log: %s)";
                    return end(spec, vm, process, VmResult.Outcome.BOOT_FAILED, OptionalInt.empty(),
                            load != null
                                    ? why.formatted(format(Duration.between(started, now)), load, tail(vm.consoleLog()))
                                    : why.formatted(format(bootTimeout), tail(vm.consoleLog())),
                            created, create, started, null);
                }
                if (deadline != null && now.isAfter(deadline)) {
                    return end(spec, vm, process, VmResult.Outcome.DEADLINE_EXCEEDED, OptionalInt.empty(),
                            "the command ran past its deadline of %s and was killed".formatted(format(spec.timeout())),
                            created, create, started, readyAt);
                }
            }
            console.poll();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return end(spec, vm, process, VmResult.Outcome.CANCELLED, OptionalInt.empty(), "interrupted",
                    created, create, started, readyAt);
        }
        if (console.exitCode().isPresent()) {
            return end(spec, vm, process, VmResult.Outcome.EXITED, console.exitCode(), "exited", created, create,
                    started, readyAt);
        }
        if (readyAt == null) {
            return end(spec, vm, process, VmResult.Outcome.BOOT_FAILED, OptionalInt.empty(),
                    "the VMM exited before the guest booted (exit status %d; %s); console: %s"
                            .formatted(process.exitValue(), vmmLog(vm), tail(vm.consoleLog())),
                    created, create, started, null);
        }
        Path kept = new CrashConsoles(config.crashesDir()).keep(spec.vmId(), vm.consoleLog());
        return end(spec, vm, process, VmResult.Outcome.GUEST_CRASHED, OptionalInt.empty(),
                "the guest stopped without reporting an exit code (a kernel panic ends the VMM like a power-off);"
                        + " its whole console is kept in " + kept + "; last lines: " + tail(vm.consoleLog()),
                created, create, started, readyAt);
    }

    private VmResult end(VmSpec spec, VmResources.Provisioned vm, Process process, VmResult.Outcome outcome,
            OptionalInt exitCode, String detail, Instant created, Duration create, Instant started, Instant readyAt) {
        Instant stopped = clock.instant();
        if (process.isAlive()) {
            process.destroyForcibly();
        }
        // The VMM dies while the network is taken down: the release awaits its exit before the cgroup goes.
        release(vm);
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Duration destroy = Duration.between(stopped, clock.instant());
        Duration boot = readyAt == null ? Duration.between(started, stopped) : Duration.between(started, readyAt);
        Duration run = readyAt == null ? Duration.ZERO : Duration.between(readyAt, stopped);
        if (outcome != VmResult.Outcome.EXITED && probes.contains(spec.vmId())) {
            EngineWarmup.logger(VmEngine.class).info("KVM probe VM {} ended {} (KVM is then not used): {}", spec.vmId(),
                    outcome, detail);
        } else if (outcome != VmResult.Outcome.EXITED) {
            EngineWarmup.logger(VmEngine.class).warn("VM {} ended {}: {}", spec.vmId(), outcome, detail);
        }
        return new VmResult(spec.vmId(), outcome, exitCode, detail, new VmResult.Timings(create, boot, run, destroy));
    }

    private static String mac(int slot) {
        return "52:54:00:%02x:%02x:%02x".formatted((slot >> 16) & 255, (slot >> 8) & 255, slot & 255);
    }

    private static String vmmLog(VmResources.Provisioned vm) {
        try {
            return "VMM said: " + Files.readString(vm.dir().resolve("vmm.log")).strip();
        } catch (IOException e) {
            return "no VMM log";
        }
    }

    static String tail(Path log) {
        try {
            String text = Files.readString(log, java.nio.charset.StandardCharsets.ISO_8859_1);
            String[] lines = text.strip().split("\r?\n");
            return String.join(" | ", java.util.Arrays.copyOfRange(lines, Math.max(0, lines.length - 5), lines.length));
        } catch (IOException e) {
            return "(empty)";
        }
    }

    static String format(Duration duration) {
        return duration.toString().substring(2).toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * Boots a probe VM under KVM: true if its guest reports back, false if it hangs or KVM refuses.
     * Any other failure (a broken image, a missing tool) is not a verdict on KVM and is thrown.
     */
    private boolean probe(ImageManifest image) {
        VmSpec spec = new VmSpec(newVmId(), image, 1, 256, 1, Duration.ofSeconds(10), List.of("true"), Map.of(), false);
        VmResult result;
        probes.add(spec.vmId());
        try {
            result = run(spec, GuestOutput.DISCARD, EngineConfig.Accelerator.KVM, Duration.ofSeconds(15), true);
        } finally {
            probes.remove(spec.vmId());
        }
        if (result.outcome() == VmResult.Outcome.EXITED) {
            return true;
        }
        String detail = result.detail().toLowerCase(java.util.Locale.ROOT);
        if (result.outcome() == VmResult.Outcome.GUEST_CRASHED || detail.contains("no init marker")
                || detail.contains("kvm")) {
            return false;
        }
        throw new KilnException(ErrorCode.BOOT_FAILED, "the KVM probe VM failed for a reason unrelated to KVM: "
                + result.detail());
    }
}
