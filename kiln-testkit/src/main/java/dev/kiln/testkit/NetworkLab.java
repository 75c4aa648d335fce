package dev.kiln.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A small network made of namespaces, so VM networking is tested without touching the machine's
 * own network: a "host" namespace (where Kiln puts its taps and rules) with an uplink to an
 * "internet" namespace and a link to a "LAN" namespace holding a private-network host. Each of the
 * three serves a page with busybox httpd. Closing the lab kills the servers and deletes the
 * namespaces, and with them every link, tap and nftables table inside.
 */
public final class NetworkLab implements AutoCloseable {
    /** TEST-NET-2: public-looking, so the VM reaches it only through NAT. */
    public static final String INTERNET_ADDRESS = "198.51.100.1";
    public static final String HOST_UPLINK_ADDRESS = "198.51.100.2";
    public static final String LAN_HOST_ADDRESS = "192.168.77.2";
    public static final String HOST_LAN_ADDRESS = "192.168.77.1";
    public static final int HOST_PORT = 8081;
    /** The port on the "internet" host where {@link #exposeOnInternet} forwards to this machine's loopback. */
    public static final int FORWARDED_PORT = 8080;

    private final String host;
    private final String internet;
    private final String lan;
    private final Path webRoot;
    private final List<Process> servers = new ArrayList<>();

    private NetworkLab(String suffix) throws IOException {
        host = "kiln-h-" + suffix;
        internet = "kiln-i-" + suffix;
        lan = "kiln-l-" + suffix;
        webRoot = Files.createTempDirectory("kiln-lab-");
    }

    public static NetworkLab create() {
        String suffix = Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0xfffff));
        NetworkLab lab;
        try {
            lab = new NetworkLab(suffix);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            lab.build();
            return lab;
        } catch (RuntimeException e) {
            lab.close();
            throw e;
        }
    }

    private void build() {
        for (String ns : List.of(host, internet, lan)) {
            run("ip", "netns", "add", ns);
            run("ip", "-n", ns, "link", "set", "lo", "up");
        }
        run("ip", "link", "add", "up0", "netns", host, "type", "veth", "peer", "name", "eth0", "netns", internet);
        run("ip", "link", "add", "lan0", "netns", host, "type", "veth", "peer", "name", "eth0", "netns", lan);
        address(host, "up0", HOST_UPLINK_ADDRESS + "/24");
        address(internet, "eth0", INTERNET_ADDRESS + "/24");
        address(host, "lan0", HOST_LAN_ADDRESS + "/24");
        address(lan, "eth0", LAN_HOST_ADDRESS + "/24");
        run("ip", "-n", host, "route", "add", "default", "via", INTERNET_ADDRESS);
        // The LAN host may answer the VM range directly (as a real LAN would), so only the firewall stops it.
        run("ip", "-n", lan, "route", "add", "default", "via", HOST_LAN_ADDRESS);
        serve(internet, 80, "internet-ok");
        serve(lan, 80, "lan-ok");
        serve(host, HOST_PORT, "host-ok");
    }

    private void address(String ns, String device, String cidr) {
        run("ip", "-n", ns, "addr", "add", cidr, "dev", device);
        run("ip", "-n", ns, "link", "set", device, "up");
    }

    private void serve(String ns, int port, String body) {
        try {
            Path root = Files.createDirectories(webRoot.resolve(ns));
            Files.writeString(root.resolve("index.html"), body + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        start(List.of("ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p", Integer.toString(port), "-h",
                webRoot.resolve(ns).toString()));
        awaitServing(ns, port);
    }

    private static void awaitServing(String ns, int port) {
        for (int attempt = 0; attempt < 100; attempt++) {
            if (exec(List.of("ip", "netns", "exec", ns, "curl", "-sf", "-m", "1", "-o", "/dev/null",
                    "http://127.0.0.1:" + port + "/")).exitCode == 0) {
                return;
            }
            pause();
        }
        throw new IllegalStateException("busybox httpd in " + ns + " does not answer on port " + port + " after 5 s");
    }

    /** Publishes a file on the "internet" host's web server, at {@code http://INTERNET_ADDRESS/<path>}. */
    public void publishOnInternet(String path, String body) {
        try {
            Path file = webRoot.resolve(internet).resolve(path);
            Files.createDirectories(file.getParent());
            Files.writeString(file, body);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Makes a server on this machine's loopback (a fake GitHub in the test JVM) reachable from the VMs as
     * a server on the "internet" host. The namespaces share no link with the machine's own network, so the
     * bytes cross by a Unix socket: socat on the loopback side, socat listening in the "internet" namespace.
     *
     * @return the address the VMs use
     */
    public java.net.URI exposeOnInternet(int loopbackPort) {
        Path socket = webRoot.resolve("forward-" + loopbackPort + ".sock");
        start(List.of("socat", "UNIX-LISTEN:" + socket + ",fork", "TCP:127.0.0.1:" + loopbackPort));
        for (int attempt = 0; attempt < 100 && !Files.exists(socket); attempt++) {
            pause();
        }
        start(List.of("ip", "netns", "exec", internet, "socat",
                "TCP-LISTEN:" + FORWARDED_PORT + ",bind=" + INTERNET_ADDRESS + ",fork,reuseaddr", "UNIX-CONNECT:" + socket));
        String address = "http://" + INTERNET_ADDRESS + ":" + FORWARDED_PORT;
        for (int attempt = 0; attempt < 100; attempt++) {
            if (exec(List.of("ip", "netns", "exec", internet, "curl", "-s", "-m", "1", "-o", "/dev/null", address + "/")).exitCode == 0) {
                return java.net.URI.create(address);
            }
            pause();
        }
        throw new IllegalStateException("the forwarder from " + address + " to 127.0.0.1:" + loopbackPort
                + " does not answer after 5 s (is socat installed? bin/setup installs it)");
    }

    private void start(List<String> command) {
        try {
            servers.add(new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start `" + String.join(" ", command) + "` (bin/setup installs busybox and socat)", e);
        }
    }

    private static void pause() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The namespace Kiln should put its taps and rules in. */
    public String hostNamespace() {
        return host;
    }

    /** Fetches a URL from inside the host namespace; null when it cannot be reached. */
    public String fetchFromHost(String url) {
        Result result = exec(List.of("ip", "netns", "exec", host, "curl", "-sf", "-m", "3", url));
        return result.exitCode == 0 ? result.output.strip() : null;
    }

    /** Runs a command inside the host namespace. */
    public Result inHost(String... command) {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", host));
        full.addAll(List.of(command));
        return exec(full);
    }

    public record Result(int exitCode, String output) {}

    @Override
    public void close() {
        for (Process server : servers) {
            // socat forks a child per connection; a child outlives its parent while its connection is open.
            server.descendants().forEach(ProcessHandle::destroyForcibly);
            server.destroyForcibly();
            try {
                server.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (String ns : List.of(host, internet, lan)) {
            exec(List.of("ip", "netns", "del", ns));
        }
        // The engine's host-wide slots of VMs in the namespace (empty once their VMs are gone).
        Path slots = Leftovers.hostSlots(host);
        for (Path path : List.of(slots, slots.getParent().resolve("nft.lock"), slots.getParent())) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove " + path + " (a VM of the lab left its slot?)", e);
            }
        }
        try (var paths = Files.walk(webRoot)) {
            for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void run(String... command) {
        Result result = exec(List.of(command));
        if (result.exitCode != 0) {
            throw new IllegalStateException("`" + String.join(" ", command) + "` failed: " + result.output);
        }
    }

    static Result exec(List<String> command) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
                return new Result(-1, "timed out: " + output);
            }
            return new Result(process.exitValue(), output);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
