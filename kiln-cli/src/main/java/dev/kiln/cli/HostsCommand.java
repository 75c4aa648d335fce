package dev.kiln.cli;

import dev.kiln.api.HostEnrolment;
import dev.kiln.api.HostView;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** `kiln hosts`: the fleet, and adding, draining and removing hosts. */
@Command(name = "hosts", description = "Lists the hosts; add, drain, resume and rm manage them.",
        subcommands = {HostsCommand.Add.class, HostsCommand.Drain.class, HostsCommand.Resume.class,
                HostsCommand.Remove.class})
final class HostsCommand implements Callable<Integer> {
    final ClientOptions server = new ClientOptions();

    @Option(names = "--json", description = "print JSON")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        List<HostView> hosts = server.client().hosts();
        var out = spec.commandLine().getOut();
        if (json) {
            Output.json(out, hosts);
        } else {
            Output.table(out, List.of("NAME", "STATE", "ARCH", "VCPUS", "MEMORY", "DISK", "VMS", "LAST SEEN"),
                    hosts.stream().map(h -> List.of(h.name(), h.state(), arches(h),
                            h.usedVcpus() + "/" + h.vcpus(), Output.mib(h.usedMemoryMib()) + "/" + Output.mib(h.memoryMib()),
                            h.usedDiskGib() + "G/" + h.diskGib() + "G", String.valueOf(h.vms()),
                            Output.orDash(h.lastSeen()))).toList());
        }
        return ExitCodes.OK;
    }

    /** The host's own arch, then those it emulates: {@code x86_64+arm64(emulated)}. */
    static String arches(HostView host) {
        if (host.arch() == null) {
            return "-";
        }
        StringBuilder arches = new StringBuilder(host.arch());
        for (String emulated : host.emulatedArches() == null ? List.<String>of() : host.emulatedArches()) {
            arches.append('+').append(emulated).append("(emulated)");
        }
        return arches.toString();
    }

    @Command(name = "add", description = "Adds a host and prints the one-time token its agent enrols with.")
    static final class Add implements Callable<Integer> {
        final ClientOptions server = new ClientOptions();

        @Parameters(paramLabel = "NAME", description = "the host's name: lower-case letters, digits, '.' and '-'")
        String name;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            HostEnrolment enrolment = server.client().addHost(name);
            var out = spec.commandLine().getOut();
            out.println(enrolment.enrolmentToken());
            spec.commandLine().getErr().println("kiln: host " + enrolment.host() + " added; on it run: kiln agent --server "
                    + server.server() + " --token TOKEN (the token above works once)");
            return ExitCodes.OK;
        }
    }

    @Command(name = "drain", description = "The host takes no new VMs; those it runs finish.")
    static final class Drain implements Callable<Integer> {
        final ClientOptions server = new ClientOptions();

        @Parameters(paramLabel = "NAME")
        String name;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            HostView host = server.client().drainHost(name);
            spec.commandLine().getOut().println("host " + host.name() + " is " + host.state() + " with " + host.vms()
                    + " VM(s)");
            return ExitCodes.OK;
        }
    }

    @Command(name = "resume", description = "A drained host takes VMs again.")
    static final class Resume implements Callable<Integer> {
        final ClientOptions server = new ClientOptions();

        @Parameters(paramLabel = "NAME")
        String name;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            HostView host = server.client().resumeHost(name);
            spec.commandLine().getOut().println("host " + host.name() + " is " + host.state());
            return ExitCodes.OK;
        }
    }

    @Command(name = "rm", description = "Removes a drained host with no VMs left; its token stops working.")
    static final class Remove implements Callable<Integer> {
        final ClientOptions server = new ClientOptions();

        @Parameters(paramLabel = "NAME")
        String name;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            server.client().removeHost(name);
            spec.commandLine().getOut().println("host " + name + " removed");
            return ExitCodes.OK;
        }
    }
}
