package dev.kiln.cli;

import dev.kiln.agent.Agent;
import dev.kiln.agent.AgentConfig;
import dev.kiln.agent.Enrolment;
import java.net.URI;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** `kiln agent`: this host's daemon, enrolled with a server, until stopped. */
@Command(name = "agent", description = "Runs this host's agent: enrols with the server once, then boots and"
        + " destroys VMs as the server says.")
final class AgentCommand implements Callable<Integer> {
    @Option(names = "--server", required = true, description = "the Kiln server's URL")
    URI server;

    @Option(names = "--replica", paramLabel = "URL", description = "another replica of the same server (PostgreSQL),"
            + " used while --server is unreachable (repeatable)")
    java.util.List<URI> replicas = java.util.List.of();

    @Option(names = "--token", description = "the one-time token from `kiln hosts add NAME` (first start only)")
    String token;

    @Option(names = "--token-file", description = "a file holding that token (what `kiln install agent` writes:"
            + " a token on a command line shows in ps)")
    java.nio.file.Path tokenFile;

    @Option(names = "--drain-timeout", converter = Converters.Timeout.class, description = "on SIGTERM, how long"
            + " running VMs may finish before they are stopped (default: 10m; kiln install's units allow 5m more)")
    java.time.Duration drainTimeout = java.time.Duration.ofMinutes(10);

    final HostOptions host = new HostOptions();

    @Mixin
    AgentOptions options;

    @Override
    public Integer call() throws InterruptedException {
        var credentials = Enrolment.credentials(server, token != null ? token : tokenFromFile(), host.stateDir());
        var source = new dev.kiln.agent.ServerImageSource(server, credentials.hostToken());
        var vmm = options.vmm(host, source);
        // The images the server's pipeline rolls out arrive before a launch names them (a simulated host boots none).
        var arches = new java.util.HashSet<>(vmm.capacity().emulated());
        arches.add(vmm.capacity().arch());
        var engineConfig = host.config();
        var prefetch = options.simulate ? null : new dev.kiln.agent.ImagePrefetch(host.images(), source, arches,
                host.stateDir().resolve("agent").resolve("prefetched-images"),
                image -> !dev.kiln.vm.VmEngine.vmsUsing(engineConfig, image).isEmpty());
        Agent agent = new Agent(AgentConfig.of(server, credentials.hostToken()).withReplicas(replicas), vmm, prefetch);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> agent.drain(drainTimeout), "kiln-agent-stop"));
        agent.start();
        System.out.println("kiln: agent of host " + credentials.host() + " syncing with " + server);
        System.out.flush();
        agent.awaitStop();
        if (agent.failure() != null) {
            throw agent.failure();
        }
        return ExitCodes.OK;
    }

    private String tokenFromFile() {
        if (tokenFile == null) {
            return null;
        }
        try {
            return java.nio.file.Files.readString(tokenFile).strip();
        } catch (java.io.IOException e) {
            throw new dev.kiln.core.KilnException(dev.kiln.core.ErrorCode.INVALID_ARGUMENT,
                    "cannot read the enrolment token in " + tokenFile + ": " + e.getMessage(), e);
        }
    }
}
