package dev.kiln.agent;

import dev.kiln.api.JobRequest;
import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.core.Arch;
import dev.kiln.core.JobState;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.testkit.TestingClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

import static org.awaitility.Awaitility.await;

/** A real server (SQLite, port 0) and real agents driving simulated VMMs, all in this JVM. */
final class TestFleet implements AutoCloseable {
    static final String ADMIN = "fleet-admin-token-0123456789";

    final TestingClock clock;
    final Path dir;
    final KilnServer server;
    final KilnClient client;
    private final List<Agent> agents = new ArrayList<>();

    TestFleet(Path dir, UnaryOperator<ServerConfig> tweak) {
        this(dir, tweak, null);
    }

    /** A fleet whose server serves the images of {@code images} by digest. */
    TestFleet(Path dir, UnaryOperator<ServerConfig> tweak, dev.kiln.images.ImageStore images) {
        this(dir, tweak, images, null, new TestingClock());
    }

    /** A fleet whose server serves a GitHub App on {@code /webhooks/github}, on the given clock. */
    TestFleet(Path dir, UnaryOperator<ServerConfig> tweak, dev.kiln.images.ImageStore images,
            dev.kiln.server.github.GitHubSettings github, TestingClock clock) {
        this(dir, tweak, images, clock, dev.kiln.server.github.GitHubProvider.factories(github));
    }

    /** A fleet whose server serves these providers (GitLab, say), on the given clock. */
    TestFleet(Path dir, UnaryOperator<ServerConfig> tweak, dev.kiln.images.ImageStore images, TestingClock clock,
            List<dev.kiln.server.Provider.Factory> providers) {
        this(dir, tweak, images, clock, providers, null);
    }

    /** A fleet whose server keeps the images of {@code images} fresh with the pipeline {@code pipeline} makes. */
    TestFleet(Path dir, UnaryOperator<ServerConfig> tweak, dev.kiln.images.ImageStore images, TestingClock clock,
            dev.kiln.server.images.ImagePipeline.Factory pipeline) {
        this(dir, tweak, images, clock, List.of(), java.util.Objects.requireNonNull(pipeline, "pipeline is null"), null);
    }

    /** A fleet whose server also runs the SSH gateway {@code ssh} describes. */
    TestFleet(Path dir, UnaryOperator<ServerConfig> tweak, dev.kiln.images.ImageStore images, TestingClock clock,
            List<dev.kiln.server.Provider.Factory> providers, dev.kiln.server.ssh.SshGateway.Config ssh) {
        this(dir, tweak, images, clock, providers, null, ssh);
    }

    private TestFleet(Path dir, UnaryOperator<ServerConfig> tweak, dev.kiln.images.ImageStore images, TestingClock clock,
            List<dev.kiln.server.Provider.Factory> providers, dev.kiln.server.images.ImagePipeline.Factory pipeline,
            dev.kiln.server.ssh.SshGateway.Config ssh) {
        this.clock = clock;
        this.dir = dir;
        ServerConfig config = ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN)
                .withListen("127.0.0.1", 0).withLiveness(Duration.ofSeconds(60), Duration.ofMillis(50));
        server = KilnServer.start(tweak.apply(config), clock, images, providers, pipeline, ssh);
        client = new KilnClient(server.uri(), ADMIN);
    }

    /** A host of this size with a running agent; its simulated VMs boot in {@code bootTime}. */
    Host host(String name, int vcpus, long memoryGib, Duration bootTime) {
        String token = client.addHost(name).enrolmentToken();
        return start(name, token, vcpus, memoryGib, bootTime);
    }

    /** An agent for the host (again, after a restart: it finds its kept credentials and VMs). */
    Host start(String name, String enrolmentToken, int vcpus, long memoryGib, Duration bootTime) {
        SimulatedVmm vmm = new SimulatedVmm(new Capacity(Arch.X86_64, vcpus, memoryGib * 1024, 100), bootTime,
                agentState(name).resolve("simulated-vms.json"));
        return new Host(name, run(name, enrolmentToken, vmm), vmm);
    }

    private Path agentState(String name) {
        Path state = dir.resolve("agent-" + name);
        try {
            return Files.createDirectories(state);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Agent run(String name, String enrolmentToken, Vmm vmm) {
        return run(name, Enrolment.credentials(server.uri(), enrolmentToken, agentState(name)), vmm);
    }

    /** Starts an agent with credentials it enrolled for already. */
    Agent run(String name, Enrolment.Credentials credentials, Vmm vmm) {
        return run(name, credentials, vmm, null);
    }

    /** Starts an agent that also prefetches the images the server rolls out (null: none). */
    Agent run(String name, Enrolment.Credentials credentials, Vmm vmm, ImagePrefetch prefetch) {
        Agent agent = new Agent(new AgentConfig(server.uri(), credentials.hostToken(), Duration.ofSeconds(25),
                Duration.ofMillis(200)), vmm, prefetch);
        agent.start();
        agents.add(agent);
        await().atMost(Duration.ofSeconds(30)).until(() -> client.hosts().stream()
                .anyMatch(h -> h.name().equals(name) && !h.state().equals("PENDING")));
        return agent;
    }

    record Host(String name, Agent agent, SimulatedVmm vmm) {}

    /** A host whose agent drives the given VMM (the real engine, in tests that boot VMs). */
    void hostWith(String name, Vmm vmm) {
        run(name, client.addHost(name).enrolmentToken(), vmm);
    }

    JobView submit(int cpus, long memoryGib, String... command) {
        return client.submit(JobRequest.command(List.of(command), cpus, memoryGib * 1024, 10));
    }

    JobView awaitState(String job, JobState state) {
        await().atMost(Duration.ofSeconds(30)).until(() -> client.job(job).state() == state);
        return client.job(job);
    }

    JobView awaitEnd(String job) {
        await().atMost(Duration.ofSeconds(30)).until(() -> client.job(job).state().terminal());
        return client.job(job);
    }

    @Override
    public void close() {
        agents.forEach(Agent::close);
        server.close();
    }
}
