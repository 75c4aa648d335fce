package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.FileTrees;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Makes and removes one VM's host resources: a directory (logs, config drive), an address slot, a
 * copy-on-write disk, a cgroup, a tap and its firewall rules. Each is journalled before it is made;
 * the VM's directory carries a lock held by the owning Kiln process, so a later process can tell a
 * live VM from the leftovers of a killed one.
 */
final class VmResources {
    private static final String LOCK = "owner.lock";
    private static final String JOURNAL = "journal";
    private static final String STAGING = ".new-";
    private static final String IMAGE = "image";
    static final String SCRATCH = "scratch.qcow2";

    /** VMs of this process: their directory locks are ours (a JVM cannot lock a file twice). */
    private final Set<String> owned = ConcurrentHashMap.newKeySet();
    private final EngineConfig config;
    private final Cgroups cgroups;
    private final TapDevices taps;
    private final Firewall firewall;
    private final ScratchDisks disks;
    /** Started by {@link #prepareHost}; every use of the firewall waits for it. */
    private volatile CompletableFuture<Void> baseRules = CompletableFuture.completedFuture(null);

    VmResources(EngineConfig config, Cgroups cgroups) {
        this.config = requireNonNull(config, "config is null");
        this.cgroups = requireNonNull(cgroups, "cgroups is null");
        this.taps = new TapDevices(config.netns());
        this.firewall = new Firewall(config.netns(), config.vmNetwork(), config.egressAllowList(),
                config.networkDir().resolve("nft.lock"));
        this.disks = new ScratchDisks(config.scratchDir());
    }

    /** A VM's resources while it lives; closing releases the directory lock only. */
    record Provisioned(String vmId, Path dir, int slot, String tap, String tapAddress, String guestAddress,
            Path scratchDisk, Path configDrive, Path consoleLog, Path stderrLog, FileChannel lockChannel,
            FileLock lock) {}

    void prepareHost() {
        try {
            Files.createDirectories(config.vmsDir());
            Files.createDirectories(config.slotsDir());
            // QEMU runs unprivileged: it must traverse to the images and its VM directory.
            for (Path dir : List.of(config.stateDir(), config.vmsDir())) {
                Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            }
            for (Path dir = config.stateDir().toAbsolutePath().getParent(); dir != null; dir = dir.getParent()) {
                if (!Files.getPosixFilePermissions(dir).contains(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE)) {
                    throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING, ("the VMM user %s cannot reach the state"
                            + " directory %s: %s is not searchable by others; `chmod o+x %s` or choose another"
                            + " --state-dir").formatted(config.vmmUser(), config.stateDir(), dir, dir));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare " + config.stateDir(), e);
        }
        // nft takes ~20 ms to answer: the first VM's disk, config drive and cgroup are made meanwhile.
        baseRules = CompletableFuture.runAsync(firewall::ensureBaseRules,
                step -> Thread.ofVirtual().name("kiln-base-rules").start(step));
    }

    /** Waits until the shared firewall rules are in place; throws what went wrong making them. */
    void awaitBaseRules() {
        try {
            baseRules.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException cause ? cause : e;
        }
    }

    Provisioned provision(VmSpec spec, GuestConfigFactory guestConfig, boolean withNetwork) {
        String vmId = spec.vmId();
        Path dir = config.vmsDir().resolve(vmId);
        FileChannel lockChannel = null;
        try {
            if (Files.exists(dir)) {
                throw new KilnException(ErrorCode.CONFLICT, "VM " + vmId + " already exists on this host");
            }
            owned.add(vmId);
            // Locked before anything else can see it: made and locked in this process's own staging folder,
            // which recovery never scans, then moved into the VMs folder with its lock held (a lock belongs
            // to the open file, not its name). Made in the VMs folder itself, a `.new-` folder was visible
            // for a moment unlocked, and a Kiln process starting then removed it as a dead VM's leftovers.
            Path staging = stagingDir().resolve(ProcessHandle.current().pid() + "." + vmId);
            Files.createDirectories(staging.getParent());
            Files.createDirectory(staging);
            lockChannel = FileChannel.open(staging.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = FileLocks.lock(lockChannel);
            Files.move(staging, dir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            Files.writeString(dir.resolve(IMAGE), spec.image().digest());
            Journal journal = new Journal(dir.resolve(JOURNAL));
            int slot = reserveSlot(vmId, journal);
            String tap = TapDevices.name(slot);
            String tapAddress = config.vmNetwork().tapAddress(slot);
            String guestAddress = config.vmNetwork().guestAddress(slot);

            Path scratch = dir.resolve(SCRATCH);
            GuestConfig.Network network = withNetwork
                    ? new GuestConfig.Network(guestAddress, 30, tapAddress, config.dns()) : null;
            Path configDrive = dir.resolve("config.tar");
            GuestConfig guest = guestConfig.create(network);
            // All journalled first, then made side by side: they are independent of each other (the
            // rules name the tap, they do not need it yet), and the kernel takes its time over the
            // tap and the rules. Undoing what a crash left unmade is harmless.
            journal.record(Journal.Kind.DISK, scratch.toString());
            journal.record(Journal.Kind.CGROUP, vmId);
            Steps making = new Steps();
            if (withNetwork) {
                journal.record(Journal.Kind.TAP, tap);
                journal.record(Journal.Kind.FIREWALL, slot + " " + tap);
                making.start(() -> taps.create(tap, tapAddress, config.vmmUser()));
                making.start(() -> {
                    awaitBaseRules();
                    firewall.addVm(slot, tap, guestAddress);
                });
            }
            making.start(() -> cgroups.create(vmId, spec.cpus(), memoryLimitBytes(spec.memoryMib())));
            making.start(() -> disks.createOverlay(scratch, spec.diskGib()));
            making.start(() -> {
                try {
                    ConfigDrive.write(guest, configDrive);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot write the config drive " + configDrive, e);
                }
            });
            // Every step ends before this returns or throws: an undo never races a step still making its resource.
            making.await();
            Path consoleLog = dir.resolve("console.log");
            Path stderrLog = dir.resolve("stderr.log");
            giveToVmmUser(dir, scratch, configDrive);
            return new Provisioned(vmId, dir, slot, withNetwork ? tap : null, tapAddress, guestAddress, scratch,
                    configDrive, consoleLog, stderrLog, lockChannel, lock);
        } catch (IOException | RuntimeException e) {
            KilnException failure = e instanceof KilnException k ? k : new KilnException(ErrorCode.HOST_COMMAND_FAILED,
                    "cannot make the resources of VM %s: %s".formatted(vmId, e.getMessage()), e);
            try {
                undo(dir);
            } catch (RuntimeException cleanup) {
                failure.addSuppressed(cleanup);
            } finally {
                closeQuietly(lockChannel, failure);
                owned.remove(vmId);
            }
            throw failure;
        }
    }

    /** Removes the scratch templates of sizes no VM claims (called under the host ledger's lock). */
    void pruneScratchTemplates(List<Integer> sizesInUse) {
        disks.prune(sizesInUse);
    }

    /** Memory for the guest plus what QEMU itself needs; the guest's RAM is never over-committed. */
    static long memoryLimitBytes(long guestMib) {
        return (guestMib + 256 + QemuDriver.TCG_CACHE_MIB) << 20;
    }

    void recordProcess(Provisioned vm, ProcessHandle process) {
        String start = startTicks(process.pid()).orElse("unknown");
        new Journal(vm.dir().resolve(JOURNAL)).record(Journal.Kind.PROCESS, process.pid() + " " + start);
    }

    /**
     * When a process started, in clock ticks after boot (field 22 of /proc/PID/stat): with the pid it
     * names one process, so a reused pid is never taken for it. Read here rather than through the JDK's
     * ProcessHandle.Info, whose first use takes ~6 ms on every VM's way to boot (and again on its way out).
     */
    static Optional<String> startTicks(long pid) {
        Path stat = Path.of("/proc", Long.toString(pid), "stat");
        try {
            String line = Files.readString(stat);
            // The command name (field 2) is in parentheses and may hold spaces: count from its end.
            String[] fields = line.substring(line.lastIndexOf(')') + 2).split(" ");
            return Optional.of(fields[19]);
        } catch (IOException gone) {
            // Reaped (no such file), or exiting while read (ESRCH): either way no longer the process started.
            return Optional.empty();
        }
    }

    /** Removes everything the VM had, in reverse order of creation, then its directory. Idempotent. */
    void release(Provisioned vm) {
        if (!owned.contains(vm.vmId())) {
            return; // released already
        }
        try {
            undo(vm.dir());
        } finally {
            closeQuietly(vm.lockChannel(), null);
            owned.remove(vm.vmId());
        }
    }

    /**
     * Removes the leftovers of VMs whose owner died (its directory lock is free). VMs of live Kiln
     * processes, this one included, are left alone.
     */
    List<String> recoverLeftovers() {
        List<String> recovered = new ArrayList<>();
        removeDeadStaging();
        if (!Files.isDirectory(config.vmsDir())) {
            return recovered;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(config.vmsDir())) {
            for (Path dir : dirs) {
                String vmId = dir.getFileName().toString().replace(STAGING, "");
                if (owned.contains(vmId)) {
                    continue;
                }
                try (FileChannel channel = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE,
                        StandardOpenOption.WRITE);
                     FileLock lock = channel.tryLock()) {
                    if (lock == null) {
                        continue; // a live Kiln process owns it
                    }
                    awaitBaseRules();
                    undo(dir);
                    recovered.add(vmId);
                } catch (OverlappingFileLockException ours) {
                    // locked by this JVM: a VM starting right now
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot scan " + config.vmsDir(), e);
        }
        return recovered;
    }

    /**
     * A staging folder holds nothing but its lock file, for the moment between its making and its move;
     * one whose process (named in its name) is gone was left by a kill in that moment.
     */
    private void removeDeadStaging() {
        if (!Files.isDirectory(stagingDir())) {
            return;
        }
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(stagingDir())) {
            for (Path dir : dirs) {
                String name = dir.getFileName().toString();
                int dot = name.indexOf('.');
                boolean alive = dot > 0 && name.substring(0, dot).chars().allMatch(Character::isDigit)
                        && ProcessHandle.of(Long.parseLong(name.substring(0, dot))).isPresent();
                if (!alive) {
                    FileTrees.delete(dir);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot scan " + stagingDir(), e);
        }
    }

    private Path stagingDir() {
        return config.stateDir().resolve("staging");
    }

    /** Live VMs (of any Kiln process on this host) booted from the image with this digest. */
    List<String> vmsUsing(String digest) {
        List<String> users = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(config.vmsDir())) {
            for (Path dir : dirs) {
                String vmId = dir.getFileName().toString();
                Path image = dir.resolve(IMAGE);
                if (Files.exists(image) && Files.readString(image).strip().equals(digest) && isLive(dir, vmId)) {
                    users.add(vmId);
                }
            }
        } catch (java.nio.file.NoSuchFileException none) {
            return users;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot scan " + config.vmsDir(), e);
        }
        return users;
    }

    private boolean isLive(Path dir, String vmId) throws IOException {
        if (owned.contains(vmId)) {
            return true;
        }
        try (FileChannel channel = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock lock = channel.tryLock()) {
            return lock == null;
        } catch (OverlappingFileLockException ours) {
            return true;
        }
    }

    private void undo(Path dir) {
        List<Journal.Entry> entries = new ArrayList<>(new Journal(dir.resolve(JOURNAL)).entries());
        Collections.reverse(entries);
        String vmId = dir.getFileName().toString();
        // A tap's removal waits for the kernel (an RCU grace period, 10-30 ms), and a killed VMM takes
        // a while to give back its memory: the network goes first, while the VMM dies and the cgroup and
        // disk are removed, and is awaited before the slot is given back. (A VMM still running loses its
        // network a moment before it is killed.)
        Steps network = new Steps();
        for (Journal.Entry entry : entries) {
            switch (entry.kind()) {
                case FIREWALL -> {
                    String[] parts = entry.value().split(" ");
                    network.start(() -> firewall.removeVm(Integer.parseInt(parts[0]), parts[1]));
                }
                case TAP -> network.start(() -> taps.remove(entry.value()));
                default -> { }
            }
        }
        List<ProcessHandle> dying = new ArrayList<>();
        for (Journal.Entry entry : entries) {
            switch (entry.kind()) {
                case PROCESS -> killIfSame(entry.value()).ifPresent(dying::add);
                case CGROUP -> {
                    awaitExit(dying);
                    cgroups.destroy(entry.value());
                }
                case FIREWALL, TAP -> { } // started above
                case DISK -> deleteIfExists(Path.of(entry.value()));
                case SLOT -> {
                    network.await();
                    releaseSlot(Integer.parseInt(entry.value()), vmId);
                }
            }
        }
        network.await();
        awaitExit(dying);
        try {
            FileTrees.delete(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir, e);
        }
    }

    /** Steps on virtual threads, started one by one and awaited together, by the one thread that starts them. */
    static final class Steps {
        private final List<Thread> threads = new ArrayList<>();
        private final List<RuntimeException> failures = java.util.Collections.synchronizedList(new ArrayList<>());

        void start(Runnable step) {
            threads.add(Thread.ofVirtual().name("kiln-vm-step").start(() -> {
                try {
                    step.run();
                } catch (RuntimeException e) {
                    failures.add(e);
                }
            }));
        }

        /**
         * Waits for every step started so far, even when interrupted (what runs after must not race a
         * step still at work); throws the first failure, the rest suppressed.
         */
        void await() {
            boolean interrupted = false;
            for (Thread thread : threads) {
                while (thread.isAlive()) {
                    try {
                        thread.join();
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
            }
            threads.clear();
            if (interrupted) {
                Thread.currentThread().interrupt();
                failures.add(new KilnException(ErrorCode.CANCELLED, "interrupted while changing a VM's resources"));
            }
            if (!failures.isEmpty()) {
                RuntimeException first = failures.getFirst();
                failures.subList(1, failures.size()).forEach(first::addSuppressed);
                failures.clear();
                throw first;
            }
        }
    }

    private int reserveSlot(String vmId, Journal journal) throws IOException {
        for (int slot = 0; slot < config.vmNetwork().slots(); slot++) {
            Path file = config.slotsDir().resolve(Integer.toString(slot));
            if (Files.exists(file)) {
                continue;
            }
            journal.record(Journal.Kind.SLOT, Integer.toString(slot));
            try {
                Files.writeString(file, vmId, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                return slot;
            } catch (FileAlreadyExistsException raced) {
                // another process took it between the check and the create; try the next one
            }
        }
        throw new KilnException(ErrorCode.INSUFFICIENT_CAPACITY,
                "all %d address slots of %s are in use".formatted(config.vmNetwork().slots(), config.vmNetwork()));
    }

    private void releaseSlot(int slot, String vmId) {
        Path file = config.slotsDir().resolve(Integer.toString(slot));
        try {
            // The journal records a slot before taking it: only free it if this VM really holds it.
            if (Files.exists(file) && Files.readString(file).strip().equals(vmId)) {
                Files.delete(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot free address slot " + slot, e);
        }
    }

    /** Kills the journalled process if it is still the one started (not a reused pid); returns it, dying. */
    private static Optional<ProcessHandle> killIfSame(String value) {
        String[] parts = value.split(" ", 2);
        long pid = Long.parseLong(parts[0]);
        Optional<ProcessHandle> process = ProcessHandle.of(pid)
                .filter(p -> startTicks(pid).filter(parts[1]::equals).isPresent());
        process.ifPresent(ProcessHandle::destroyForcibly);
        return process;
    }

    private static void awaitExit(List<ProcessHandle> dying) {
        dying.forEach(process -> process.onExit().join());
        dying.clear();
    }

    private void giveToVmmUser(Path dir, Path... files) throws IOException {
        UserPrincipalLookupService lookup = dir.getFileSystem().getUserPrincipalLookupService();
        UserPrincipal user;
        GroupPrincipal group;
        try {
            user = lookup.lookupPrincipalByName(config.vmmUser());
            group = lookup.lookupPrincipalByGroupName(config.vmmUser());
        } catch (java.nio.file.attribute.UserPrincipalNotFoundException e) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING, "the VMM user '%s' does not exist; create it"
                    + " with `useradd --system --no-create-home --shell /usr/sbin/nologin %s` (or run `kiln setup`)"
                    .formatted(config.vmmUser(), config.vmmUser()), e);
        }
        for (Path path : prepend(dir, files)) {
            PosixFileAttributeView view = Files.getFileAttributeView(path, PosixFileAttributeView.class);
            view.setOwner(user);
            view.setGroup(group);
        }
    }

    private static Path[] prepend(Path first, Path[] rest) {
        Path[] all = new Path[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    private static void deleteIfExists(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void closeQuietly(FileChannel channel, Exception into) {
        if (channel == null) {
            return;
        }
        try {
            channel.close();
        } catch (IOException e) {
            if (into != null) {
                into.addSuppressed(e);
            } else {
                throw new UncheckedIOException(e);
            }
        }
    }

    @FunctionalInterface
    interface GuestConfigFactory {
        GuestConfig create(GuestConfig.Network network);
    }
}
