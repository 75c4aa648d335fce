package dev.kiln.agent;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.AgentClient;
import dev.kiln.api.AgentReport;
import dev.kiln.api.LogChunk;
import dev.kiln.api.SyncAnswer;
import dev.kiln.api.VmLaunch;
import dev.kiln.api.VmReport;
import dev.kiln.api.VmState;
import dev.kiln.agent.ssh.SshRelay;
import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host daemon. Two threads talk to the server, both with the whole state (level-triggered):
 * <ul>
 *   <li>the sync loop posts a report and waits for the long-polled answer (what should exist), then
 *       converges: launches what it lacks, stops what is no longer wanted;</li>
 *   <li>the reporter wakes on news (a VM booted, printed or ended), uploads output first and then
 *       reports at once, so the server learns of an end without waiting for the held sync.</li>
 * </ul>
 * A VM that ended is reported until an answer no longer lists it; its id is then remembered, so that a
 * late answer that still lists it never runs it twice. Unreachable server: retries with backoff, VMs
 * keep running. Refused token: the agent stops with {@link #failure()}.
 */
public final class Agent implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Agent.class);
    private static final int MAX_TOMBSTONES = 100_000;

    private final AgentConfig config;
    private final Vmm vmm;
    private final ImagePrefetch prefetch;
    private final AgentClient client;
    private final String bootId;
    private final LogBuffer logs = new LogBuffer();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition news = lock.newCondition();
    private final CountDownLatch stoppedLatch = new CountDownLatch(1);
    /** Guarded by lock. */
    private final Map<String, LocalVm> vms = new LinkedHashMap<>();
    private final Map<String, Boolean> tombstones = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
            return size() > MAX_TOMBSTONES;
        }
    };
    private long sequence;
    private String desiredVersion = "";
    private long generation = -1;
    private String host;
    private boolean reportDue;
    private boolean logsDue;
    private final Thread syncThread;
    private final Thread reportThread;
    /** Debugging shells: relays the server's SSH gateway's sessions to this host's VMs. */
    private final SshRelay relay;
    private volatile boolean stopped;
    /** Set by {@link #drain}: launches the server asks for are no longer made. */
    private volatile boolean draining;
    private volatile KilnException failure;

    public Agent(AgentConfig config, Vmm vmm) {
        this(config, vmm, null);
    }

    /** @param prefetch fetches the images the server asks its hosts to hold before launches name them, or null */
    public Agent(AgentConfig config, Vmm vmm, ImagePrefetch prefetch) {
        this.prefetch = prefetch;
        this.config = requireNonNull(config, "config is null");
        this.vmm = requireNonNull(vmm, "vmm is null");
        this.client = new AgentClient(config.servers(), config.hostToken());
        byte[] random = new byte[8];
        ThreadLocalRandom.current().nextBytes(random);
        this.bootId = HexFormat.of().formatHex(random);
        this.syncThread = Thread.ofPlatform().name("kiln-agent-sync").daemon().unstarted(this::syncLoop);
        this.reportThread = Thread.ofPlatform().name("kiln-agent-report").daemon().unstarted(this::reportLoop);
        this.relay = new SshRelay(client, config.server(), config.hostToken(), this::sshEndpoint);
    }

    /** Adopts or cleans what an earlier agent left, then starts syncing. */
    public void start() {
        List<Vmm.Adopted> adopted = vmm.recover(listener);
        lock.lock();
        try {
            for (Vmm.Adopted vm : adopted) {
                vms.put(vm.launch().id(), new LocalVm(vm.launch(), vm.running() ? VmState.RUNNING : VmState.BOOTING));
            }
        } finally {
            lock.unlock();
        }
        if (!adopted.isEmpty()) {
            log.info("adopted {} VM(s) of an earlier agent: {}", adopted.size(),
                    adopted.stream().map(a -> a.launch().id()).toList());
        }
        syncThread.start();
        reportThread.start();
        relay.start();
    }

    /** The host's name as the server knows it, once the first answer came. */
    public String host() {
        lock.lock();
        try {
            return host;
        } finally {
            lock.unlock();
        }
    }

    /** The VMs the agent has now, ended ones not yet acknowledged included. */
    public List<String> vms() {
        lock.lock();
        try {
            return List.copyOf(vms.keySet());
        } finally {
            lock.unlock();
        }
    }

    /** Why the agent stopped by itself (its token was refused), or null. */
    public KilnException failure() {
        return failure;
    }

    /** Blocks until the agent stops (closed, or refused by the server). */
    public void awaitStop() throws InterruptedException {
        stoppedLatch.await();
    }

    /** Reports at once (an image arrived): the server learns of it without waiting for the held sync. */
    private void reportSoon() {
        lock.lock();
        try {
            reportDue = true;
            news.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private final Vmm.Listener listener = new Vmm.Listener() {
        @Override
        public void running(String vmId) {
            running(vmId, null);
        }

        @Override
        public void running(String vmId, VmReport.Boot boot) {
            lock.lock();
            try {
                LocalVm vm = vms.get(vmId);
                if (vm != null && vm.boot == null && boot != null) {
                    vm.boot = boot;
                    reportDue = true;
                    news.signalAll();
                }
                if (vm != null && vm.state == VmState.BOOTING) {
                    vm.state = VmState.RUNNING;
                    reportDue = true;
                    news.signalAll();
                }
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void ssh(String vmId, dev.kiln.vm.GuestSshEndpoint endpoint) {
            lock.lock();
            try {
                LocalVm vm = vms.get(vmId);
                if (vm != null) {
                    vm.ssh = endpoint;
                    reportDue = true;
                    news.signalAll();
                }
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void output(String vmId, String stream, byte[] bytes, int offset, int length) {
            logs.append(vmId, stream, bytes, offset, length);
            lock.lock();
            try {
                logsDue = true;
                news.signalAll();
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void ended(String vmId, Vmm.Ending ending) {
            lock.lock();
            try {
                LocalVm vm = vms.get(vmId);
                if (vm != null && vm.ending == null) {
                    vm.ending = ending;
                    vm.state = ending.state();
                    reportDue = true;
                    logsDue = true;
                    news.signalAll();
                }
            } finally {
                lock.unlock();
            }
            relay.vmEnded(vmId);
            log.info("VM {} ended: {}", vmId, ending.detail());
        }
    };

    /** Where this host reaches a VM's sshd, while the VM runs and has one. */
    private java.util.Optional<dev.kiln.vm.GuestSshEndpoint> sshEndpoint(String vmId) {
        lock.lock();
        try {
            LocalVm vm = vms.get(vmId);
            return vm == null || vm.ended() || vm.state != VmState.RUNNING ? java.util.Optional.empty()
                    : java.util.Optional.ofNullable(vm.ssh);
        } finally {
            lock.unlock();
        }
    }

    private void syncLoop() {
        Duration backoff = Duration.ofMillis(100);
        boolean unreachable = false;
        while (!stopped) {
            // Named before the call: a failed call moves the client on to the next replica.
            java.net.URI asked = client.server();
            try {
                AgentReport sent = report();
                SyncAnswer answer = client.sync(sent, config.hold());
                answered(sent);
                converge(answer);
                if (unreachable) {
                    log.info("the server at {} answers again", client.server());
                    unreachable = false;
                }
                backoff = Duration.ofMillis(100);
            } catch (KilnException e) {
                if (stopped || e.code() == ErrorCode.CANCELLED) {
                    break;
                }
                if (e.code() == ErrorCode.UNAUTHENTICATED) {
                    log.error("the server refused this agent: {}", e.getMessage());
                    failure = e;
                    stopInBackground();
                    break;
                }
                if (!unreachable) {
                    log.warn("sync with {} failed: {}; retrying with {} (backoff up to {} ms)", asked, e.getMessage(),
                            client.server(), config.maxBackoff().toMillis());
                    unreachable = true;
                }
                if (!pause(backoff)) {
                    break;
                }
                backoff = backoff.multipliedBy(2).compareTo(config.maxBackoff()) > 0 ? config.maxBackoff()
                        : backoff.multipliedBy(2);
            }
        }
    }

    private void reportLoop() {
        Duration backoff = Duration.ofMillis(50);
        while (!stopped) {
            boolean report;
            boolean upload;
            lock.lock();
            try {
                while (!reportDue && !logsDue && !stopped) {
                    news.await();
                }
                report = reportDue;
                upload = logsDue;
                reportDue = false;
                logsDue = false;
            } catch (InterruptedException e) {
                break;
            } finally {
                lock.unlock();
            }
            if (stopped) {
                break;
            }
            try {
                if (upload) {
                    List<LogChunk> chunks = logs.take();
                    if (!chunks.isEmpty()) {
                        client.uploadLogs(chunks);
                        logs.uploaded();
                    }
                    report |= markEndsReportable();
                }
                if (report) {
                    AgentReport sent = report();
                    SyncAnswer answer = client.sync(sent, Duration.ZERO);
                    answered(sent);
                    converge(answer);
                }
                backoff = Duration.ofMillis(50);
            } catch (KilnException e) {
                if (stopped || e.code() == ErrorCode.CANCELLED) {
                    break;
                }
                lock.lock();
                try {
                    reportDue |= report;
                    logsDue |= upload;
                } finally {
                    lock.unlock();
                }
                if (e.code() == ErrorCode.UNAUTHENTICATED) {
                    pause(config.maxBackoff()); // the sync loop reports it and stops the agent
                    continue;
                }
                log.debug("report failed: {}", e.getMessage());
                if (!pause(backoff)) {
                    break;
                }
                backoff = backoff.multipliedBy(2).compareTo(config.maxBackoff()) > 0 ? config.maxBackoff()
                        : backoff.multipliedBy(2);
            }
        }
    }

    /** Ended VMs whose output is all uploaded may now be reported as ended; true if any became so. */
    private boolean markEndsReportable() {
        boolean any = false;
        lock.lock();
        try {
            for (LocalVm vm : vms.values()) {
                if (vm.ended() && !vm.endReportable && logs.drained(vm.launch.id())) {
                    vm.endReportable = true;
                    any = true;
                }
            }
        } finally {
            lock.unlock();
        }
        return any;
    }

    /** The server has taken a report: the ends it carried are recorded (or overtaken by a newer report's). */
    private void answered(AgentReport sent) {
        lock.lock();
        try {
            for (VmReport vm : sent.vms()) {
                LocalVm local = vms.get(vm.id());
                if (local != null && (vm.state() == VmState.EXITED || vm.state() == VmState.FAILED)) {
                    local.endSent = true;
                }
            }
            news.signalAll(); // a drain waits for the server to take every end
        } finally {
            lock.unlock();
        }
    }

    private AgentReport report() {
        Capacity capacity = vmm.capacity();
        lock.lock();
        try {
            List<VmReport> reports = new ArrayList<>(vms.size());
            for (LocalVm vm : vms.values()) {
                reports.add(vm.report());
            }
            return new AgentReport(bootId, ++sequence, AgentConfig.VERSION, capacity.arch().id(), capacity.vcpus(),
                    capacity.memoryMib(), capacity.diskGib(), desiredVersion, reports,
                    capacity.emulated().stream().map(Arch::id).sorted().toList(), prefetch == null ? null : prefetch.held(),
                    vmm.cleanupFailures());
        } finally {
            lock.unlock();
        }
    }

    /** Makes the host match the answer: launch what is missing, stop what is not wanted. */
    private void converge(SyncAnswer answer) {
        if (prefetch != null && !draining) {
            prefetch.want(answer.prefetch(), this::reportSoon);
        }
        List<VmLaunch> toLaunch = new ArrayList<>();
        List<String> toCancel = new ArrayList<>();
        lock.lock();
        try {
            host = answer.host();
            if (answer.generation() < generation) {
                return; // an older answer overtaken by a newer one: acting on it would undo the newer
            }
            generation = answer.generation();
            Map<String, VmLaunch> wanted = new LinkedHashMap<>();
            for (VmLaunch launch : answer.vms()) {
                wanted.put(launch.id(), launch);
                if (!draining && !vms.containsKey(launch.id()) && !tombstones.containsKey(launch.id())) {
                    vms.put(launch.id(), new LocalVm(launch, VmState.BOOTING));
                    toLaunch.add(launch);
                }
            }
            for (LocalVm vm : new ArrayList<>(vms.values())) {
                String id = vm.launch.id();
                if (wanted.containsKey(id)) {
                    continue;
                }
                if (vm.ended() && vm.endSent) {
                    vms.remove(id);
                    tombstones.put(id, Boolean.TRUE);
                    logs.forget(id);
                } else if (!vm.ended()) {
                    toCancel.add(id);
                }
            }
            desiredVersion = answer.desiredVersion();
            if (!toLaunch.isEmpty()) {
                reportDue = true;
                news.signalAll();
            }
        } finally {
            lock.unlock();
        }
        for (VmLaunch launch : toLaunch) {
            log.info("launching VM {} for job {} ({} vCPUs, {} MiB)", launch.id(), launch.job(), launch.cpus(),
                    launch.memoryMib());
            vmm.launch(launch, listener);
        }
        for (String id : toCancel) {
            vmm.cancel(id);
        }
    }

    private boolean pause(Duration duration) {
        try {
            Thread.sleep(duration);
            return true;
        } catch (InterruptedException e) {
            return false;
        }
    }

    private void stopInBackground() {
        Thread.ofPlatform().name("kiln-agent-stop").daemon().start(this::close);
    }

    /**
     * The clean stop (SIGTERM): takes no more launches, lets the running VMs finish for up to {@code deadline},
     * then stops those left (they end CANCELLED), reports every end to the server, and closes. A launch the
     * server asked for and this agent did not make is the server's to requeue once the host is offline.
     */
    public void drain(Duration deadline) {
        requireNonNull(deadline, "deadline is null");
        draining = true;
        int running = vms().size();
        log.info("draining: no more launches; waiting up to {} s for {} VM(s)", deadline.toSeconds(), running);
        if (!awaitEndsSent(deadline)) {
            List<String> left = new ArrayList<>();
            lock.lock();
            try {
                vms.values().stream().filter(vm -> !vm.ended()).forEach(vm -> left.add(vm.launch.id()));
            } finally {
                lock.unlock();
            }
            log.warn("drain deadline of {} s passed: stopping VM(s) {}", deadline.toSeconds(), left);
            left.forEach(vmm::cancel);
            // Their ends are reported as any other; bounded so that a server gone away cannot hold the stop.
            if (!awaitEndsSent(Duration.ofSeconds(30))) {
                log.warn("the ends of VM(s) {} were not taken by the server within 30 s; it will find the host"
                        + " offline and settle their jobs", left);
            }
        }
        close();
    }

    /** Waits until every VM ended and the server took its end; false if the wait ran out first. */
    private boolean awaitEndsSent(Duration wait) {
        long nanos = wait.toNanos();
        lock.lock();
        try {
            while (!vms.values().stream().allMatch(vm -> vm.ended() && vm.endSent)) {
                if (nanos <= 0 || stopped) {
                    return false;
                }
                nanos = news.awaitNanos(nanos);
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** Stops syncing and closes the VMM (see {@link Vmm#close()} for what becomes of running VMs). */
    @Override
    public void close() {
        if (stopped) {
            return;
        }
        stopped = true;
        lock.lock();
        try {
            news.signalAll();
        } finally {
            lock.unlock();
        }
        for (Thread thread : List.of(syncThread, reportThread)) {
            if (thread != Thread.currentThread()) {
                thread.interrupt();
                try {
                    thread.join(10_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        relay.close();
        vmm.close();
        stoppedLatch.countDown();
    }
}
