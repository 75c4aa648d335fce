package dev.kiln.agent;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.VmLaunch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A VMM that boots nothing: for fleet-scale tests and benchmarks only. Each VM "boots" for
 * {@code bootTime}, then "runs" its command: {@code sleep S} lasts S seconds and exits 0, {@code exit N}
 * exits N, {@code echo ARGS} prints ARGS and exits 0, anything else prints what it would have run and
 * exits 0. A runner VM (a launch with a JIT config) exits 0 at once, as a command that succeeds, unless a
 * {@link RunnerGuest} stands in for the runner. The state file never holds a JIT config. With a state file the simulated VMs outlive the agent: a new agent on the same file adopts
 * those still running, as a real host's VMs would outlive a crashed agent.
 */
public final class SimulatedVmm implements Vmm {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Plays a runner VM's guest (in tests, a runner that claims a job from a fake GitHub with the JIT config).
     * Runs on a thread of its own, which is interrupted when the VM is cancelled; returns the guest's exit code.
     */
    @FunctionalInterface
    public interface RunnerGuest {
        int run(VmLaunch launch) throws Exception;
    }

    /** A simulated VM as kept in the state file: what it runs and when it ends (epoch ms). */
    record Record(VmLaunch launch, long endsAt) {}

    private final Capacity capacity;
    private final Duration bootTime;
    private final Path stateFile;
    private final InstantSource clock;
    private final ScheduledExecutorService timers;
    private final Map<String, ScheduledFuture<?>> running = new LinkedHashMap<>();
    private final Map<String, Record> records = new LinkedHashMap<>();
    private final List<String> launches = Collections.synchronizedList(new ArrayList<>());
    private final List<VmLaunch> launched = Collections.synchronizedList(new ArrayList<>());
    private final Map<String, Listener> listeners = new LinkedHashMap<>();
    private final Map<String, Thread> guests = new LinkedHashMap<>();
    private volatile RunnerGuest runnerGuest;

    /**
     * @param stateFile where running VMs are kept across agent restarts, or null to keep none
     */
    public SimulatedVmm(Capacity capacity, Duration bootTime, Path stateFile) {
        this.capacity = requireNonNull(capacity, "capacity is null");
        this.bootTime = requireNonNull(bootTime, "bootTime is null");
        this.stateFile = stateFile;
        this.clock = InstantSource.system();
        this.timers = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("kiln-simulated-vmm")
                .daemon().factory());
    }

    @Override
    public Capacity capacity() {
        return capacity;
    }

    /** Runner VMs launched from now on run {@code guest} instead of exiting at once. */
    public SimulatedVmm withRunnerGuest(RunnerGuest guest) {
        this.runnerGuest = requireNonNull(guest, "guest is null");
        return this;
    }

    /** Every launch so far, in order, repeats included: tests check that no job ran twice. */
    public List<String> launches() {
        synchronized (launches) {
            return List.copyOf(launches);
        }
    }

    /** Every launch so far as the server sent it (without its secrets): what it boots, and for which arch. */
    public List<VmLaunch> launchedVms() {
        synchronized (launched) {
            return List.copyOf(launched);
        }
    }

    @Override
    public synchronized List<Adopted> recover(Listener listener) {
        if (stateFile == null || !Files.exists(stateFile)) {
            return List.of();
        }
        List<Record> saved;
        try {
            saved = JSON.readValue(stateFile.toFile(), new TypeReference<List<Record>>() {});
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the simulated VMs in " + stateFile, e);
        }
        List<Adopted> adopted = new ArrayList<>();
        for (Record record : saved) {
            records.put(record.launch().id(), record);
            listeners.put(record.launch().id(), listener);
            long left = Math.max(0, record.endsAt() - clock.millis());
            String id = record.launch().id();
            running.put(id, timers.schedule(() -> finish(id, Ending.exited(exitCode(record.launch()))), left,
                    TimeUnit.MILLISECONDS));
            adopted.add(new Adopted(record.launch(), true));
        }
        return adopted;
    }

    @Override
    public synchronized void launch(VmLaunch launch, Listener listener) {
        launches.add(launch.id());
        launched.add(launch.withoutSecrets());
        if (running.containsKey(launch.id())) {
            return;
        }
        String id = launch.id();
        listeners.put(id, listener);
        long runMillis = runMillis(launch);
        records.put(id, new Record(launch.withoutSecrets(), clock.millis() + bootTime.toMillis() + runMillis));
        save();
        running.put(id, timers.schedule(() -> boot(launch, listener, runMillis), bootTime.toMillis(),
                TimeUnit.MILLISECONDS));
    }

    private void boot(VmLaunch launch, Listener listener, long runMillis) {
        String id = launch.id();
        synchronized (this) {
            if (!running.containsKey(id)) {
                return;
            }
            RunnerGuest guest = runnerGuest;
            if (launch.isRunner() && guest != null) {
                guests.put(id, Thread.ofVirtual().name("kiln-simulated-runner-" + id).start(() -> runGuest(launch, guest)));
            } else {
                running.put(id, timers.schedule(() -> finish(id, Ending.exited(exitCode(launch))), runMillis,
                        TimeUnit.MILLISECONDS));
            }
        }
        listener.running(id);
        byte[] text = output(launch).getBytes(StandardCharsets.UTF_8);
        if (text.length > 0) {
            listener.output(id, "stdout", text, 0, text.length);
        }
    }

    private void runGuest(VmLaunch launch, RunnerGuest guest) {
        Ending ending;
        try {
            ending = Ending.exited(guest.run(launch) & 255);
        } catch (InterruptedException e) {
            return; // cancelled: cancel() reports the end
        } catch (Exception e) {
            ending = Ending.failed("GUEST_CRASHED", "the simulated runner failed: " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        }
        finish(launch.id(), ending);
    }

    private void finish(String id, Ending ending) {
        Listener listener;
        synchronized (this) {
            Thread guest = guests.remove(id);
            if (running.remove(id) == null && guest == null) {
                return;
            }
            records.remove(id);
            listener = listeners.remove(id);
            save();
        }
        if (listener != null) {
            listener.ended(id, ending);
        }
    }

    @Override
    public void cancel(String vmId) {
        ScheduledFuture<?> timer;
        Thread guest;
        synchronized (this) {
            timer = running.get(vmId);
            guest = guests.get(vmId);
        }
        if (timer != null) {
            timer.cancel(false);
        }
        if (guest != null) {
            guest.interrupt();
        }
        if (timer != null || guest != null) {
            finish(vmId, Ending.failed("CANCELLED", "cancelled"));
        }
    }

    /** Stops the timers and runner guests; with a state file the VMs "keep running" for the next agent to adopt. */
    @Override
    public void close() {
        timers.shutdownNow();
        synchronized (this) {
            guests.values().forEach(Thread::interrupt);
        }
    }

    private void save() {
        if (stateFile == null) {
            return;
        }
        try {
            Path temp = stateFile.resolveSibling(stateFile.getFileName() + ".tmp");
            JSON.writeValue(temp.toFile(), List.copyOf(records.values()));
            Files.move(temp, stateFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save the simulated VMs in " + stateFile, e);
        }
    }

    private static long runMillis(VmLaunch launch) {
        List<String> command = launch.command();
        if (command.isEmpty()) {
            return 0;
        }
        if (command.size() == 2 && command.get(0).equals("sleep")) {
            try {
                return Math.max(0, Math.round(Double.parseDouble(command.get(1)) * 1000));
            } catch (NumberFormatException e) {
                return 0;
            }
        }
        return 0;
    }

    private static int exitCode(VmLaunch launch) {
        List<String> command = launch.command();
        if (command.size() == 2 && command.get(0).equals("exit")) {
            try {
                return Integer.parseInt(command.get(1)) & 255;
            } catch (NumberFormatException e) {
                return 2;
            }
        }
        return 0;
    }

    private static String output(VmLaunch launch) {
        List<String> command = launch.command();
        if (command.isEmpty()) {
            return "simulated runner VM " + launch.id() + "\n";
        }
        if (command.get(0).equals("echo")) {
            return String.join(" ", command.subList(1, command.size())) + "\n";
        }
        if (command.get(0).equals("sleep") || command.get(0).equals("exit")) {
            return "";
        }
        return "simulated VM " + launch.id() + " would run: " + String.join(" ", command) + "\n";
    }
}
