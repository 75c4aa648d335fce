package dev.kiln.cli;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.nio.file.Path;

/**
 * The systemd units of `kiln install`. The server runs as the system user {@value #USER}: it needs no
 * privilege. The agent and `up` run as root: they make taps, namespaces, nftables rules and cgroups for VMs.
 * No secret is ever on a command line (it would show in `ps` and `systemctl status`): the agent reads its
 * enrolment token from {@link #ENROLMENT_TOKEN}, 0600, and the server makes its admin token in its data dir.
 */
final class ServiceUnits {
    static final String USER = "kiln";
    static final Path UNIT_DIR = Path.of("etc/systemd/system");
    static final Path SYSUSERS = Path.of("usr/lib/sysusers.d/kiln.conf");
    static final Path ENROLMENT_TOKEN = Path.of("etc/kiln/agent-enrolment-token");

    enum Role {
        SERVER, AGENT, UP;

        String unitName() {
            return "kiln-" + name().toLowerCase(java.util.Locale.ROOT) + ".service";
        }
    }

    private ServiceUnits() {}

    static long drainSeconds(java.time.Duration stopAfter) {
        long stop = stopAfter.toSeconds();
        return stop > 600 ? stop - 300 : Math.max(1, stop / 2);
    }

    /** The sysusers.d line that makes the server's user, with the server's data dir as its home. */
    static String sysusers() {
        return "# Made by `kiln install server`; `kiln uninstall` removes it.\n"
                + "u " + USER + " - \"Kiln server\" /var/lib/kiln/server\n";
    }

    /**
     * @param kiln the absolute path of the kiln launcher
     * @param server the server an agent enrols with (agent only)
     * @param listen HOST:PORT the server or `up` serves on
     * @param stopAfter how long systemd waits after SIGTERM before it kills what is left
     */
    static String unit(Role role, Path kiln, URI server, String listen, java.time.Duration stopAfter) {
        requireNonNull(role, "role is null");
        requireNonNull(kiln, "kiln is null");
        if (!kiln.isAbsolute()) {
            throw new IllegalArgumentException("systemd needs an absolute path to kiln, not " + kiln);
        }
        StringBuilder unit = new StringBuilder()
                .append("# Written by `kiln install ").append(role.name().toLowerCase(java.util.Locale.ROOT))
                .append("`; `kiln uninstall` removes it.\n[Unit]\n")
                .append("Description=").append(switch (role) {
                    case SERVER -> "Kiln server (API, job store, scheduler)";
                    case AGENT -> "Kiln agent (boots this host's CI VMs)";
                    case UP -> "Kiln server and agent on one host";
                }).append('\n')
                .append("Wants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=exec\n");
        String command = switch (role) {
            case SERVER -> "server --data-dir /var/lib/kiln/server --listen " + listen;
            case AGENT -> "agent --server " + requireNonNull(server, "server is null")
                    + " --token-file /" + ENROLMENT_TOKEN
                    // The agent's own drain ends 5 minutes (or half the time) before systemd kills it.
                    + " --drain-timeout " + drainSeconds(stopAfter) + "s";
            case UP -> "up --listen " + listen;
        };
        unit.append("ExecStart=").append(kiln).append(' ').append(command).append('\n');
        if (role == Role.SERVER) {
            unit.append("User=").append(USER).append("\nGroup=").append(USER).append('\n')
                    // systemd makes /var/lib/kiln/server, owned by the user, 0700 (the admin token is in it).
                    .append("StateDirectory=kiln/server\nStateDirectoryMode=0700\n")
                    .append("NoNewPrivileges=yes\nProtectSystem=strict\nProtectHome=yes\nPrivateTmp=yes\n");
        }
        return unit.append("Restart=on-failure\nRestartSec=5s\n")
                .append("StandardOutput=journal\nStandardError=journal\n")
                // SIGTERM to kiln only: its own stop ends the VMs it started and removes what it made;
                // whatever is left when the time is up is killed.
                .append("KillMode=mixed\nKillSignal=SIGTERM\n")
                .append("TimeoutStopSec=").append(Math.max(1, stopAfter.toSeconds())).append("s\n")
                .append("\n[Install]\nWantedBy=multi-user.target\n")
                .toString();
    }
}
