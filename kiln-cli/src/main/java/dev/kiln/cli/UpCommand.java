package dev.kiln.cli;

import dev.kiln.agent.Agent;
import dev.kiln.agent.AgentConfig;
import dev.kiln.agent.Enrolment;
import dev.kiln.api.KilnClient;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.server.github.GitHubSettings;
import dev.kiln.server.gitlab.GitLabSettings;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** `kiln up`: a server and this host's agent in one process, on embedded SQLite: the single-machine default. */
@Command(name = "up", description = "Runs a server and an agent for this machine in one process (embedded SQLite).")
final class UpCommand implements Callable<Integer> {
    @Option(names = "--listen", description = "HOST:PORT to serve the API on (default: 127.0.0.1:7878)")
    String listen = "127.0.0.1:" + ServerConfig.DEFAULT_PORT;

    @Option(names = "--host-name", description = "this host's name in the fleet (default: local)")
    String hostName = "local";

    final HostOptions host = new HostOptions();

    @Mixin
    AgentOptions options;

    @Mixin
    GitHubOptions github = new GitHubOptions();

    @Mixin
    GitLabOptions gitlab = new GitLabOptions();

    @Mixin
    PipelineOptions pipeline = new PipelineOptions();

    @Mixin
    SshOptions ssh = new SshOptions();

    @Override
    public Integer call() throws InterruptedException {
        // Read first: a bad GitHub, GitLab or pipeline config stops `kiln up` before it makes or starts anything.
        GitHubSettings gitHub = github.settings();
        GitLabSettings gitLab = gitlab.settings();
        var keeper = pipeline.factory(host, host.images(), host.stateDir().resolve("images"));
        Path data = host.stateDir().resolve("server");
        var sshConfig = ssh.config(data);
        ServerCommand serverOptions = new ServerCommand();
        serverOptions.listen = listen;
        ServerConfig config = serverOptions.config(data);
        // Server and agent share this host's image store: launches name digests the agent has.
        KilnServer server = KilnServer.start(config, InstantSource.system(), host.images(),
                ServerCommand.providers(gitHub, gitLab), keeper, sshConfig);
        Agent agent;
        try {
            // The agent's credentials follow the server to a new --listen address: it enrolled with this
            // server's database, whose token for it stands (before, it kept the old address and failed, 127).
            var credentials = Enrolment.followServer(server.uri(), hostName, host.stateDir()).orElseGet(() ->
                    Enrolment.credentials(server.uri(), new KilnClient(server.uri(), config.adminToken())
                            .addHost(hostName).enrolmentToken(), host.stateDir()));
            agent = new Agent(AgentConfig.of(server.uri(), credentials.hostToken()), options.vmm(host, null));
            agent.start();
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            agent.close();
            server.close();
        }, "kiln-up-stop"));
        System.out.println("kiln: server listening on " + server.uri() + " with host " + hostName
                + GitHubOptions.webhooksNote(gitHub, server.uri()) + GitLabOptions.webhooksNote(gitLab, server.uri()));
        if (sshConfig != null) {
            System.out.println("kiln: SSH gateway for debugging shells on " + sshConfig.bindAddress() + ":" + server.sshPort());
        }
        System.out.println("kiln: for the CLI: export KILN_SERVER=" + server.uri() + " KILN_TOKEN=$(cat "
                + data.resolve("admin-token") + ")");
        System.out.flush();
        agent.awaitStop();
        if (agent.failure() != null) {
            server.close();
            throw agent.failure();
        }
        return ExitCodes.OK;
    }
}
