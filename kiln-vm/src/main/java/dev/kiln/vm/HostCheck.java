package dev.kiln.vm;

import dev.kiln.core.KilnException;
import dev.kiln.images.ImageStore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The host prerequisites `kiln doctor` prints, each with what to do when it is missing. */
public final class HostCheck {
    private static final long MIN_FREE_GIB = 5;

    private HostCheck() {}

    public record Finding(String name, boolean ok, String detail, String remedy) {}

    public static List<Finding> run(EngineConfig config) {
        List<Finding> findings = new ArrayList<>();
        findings.add(tool("qemu", List.of("qemu-system-x86_64", "--version"), "apt-get install qemu-system-x86"));
        findings.add(tool("qemu-img", List.of("qemu-img", "--version"), "apt-get install qemu-utils"));
        findings.add(accelerator(config));
        findings.add(tool("nftables", List.of("nft", "--version"), "apt-get install nftables"));
        findings.add(tool("iproute2", List.of("ip", "-V"), "apt-get install iproute2"));
        findings.add(tool("setpriv", List.of("setpriv", "--version"), "apt-get install util-linux"));
        findings.add(tool("mkfs.ext4", List.of("mkfs.ext4", "-V"), "apt-get install e2fsprogs"));
        findings.add(cgroups());
        findings.add(vmmUser(config));
        findings.add(device(config, "/dev/net/tun", "chmod 0666 /dev/net/tun (Debian's default; bin/setup does it)"));
        findings.add(freeDisk(config));
        findings.add(image(config));
        return findings;
    }

    private static Finding tool(String name, List<String> versionCommand, String remedy) {
        try {
            HostCommand.Result result = HostCommand.execute(versionCommand, null);
            String version = (result.stdout() + result.stderr()).lines().findFirst().orElse("").strip();
            return new Finding(name, result.ok(), version, remedy);
        } catch (KilnException missing) {
            return new Finding(name, false, versionCommand.getFirst() + " not found", remedy);
        }
    }

    private static Finding accelerator(EngineConfig config) {
        Path verdict = config.stateDir().resolve("accelerator");
        String probed = "";
        try {
            if (Files.exists(verdict)) {
                probed = "; probe verdict: " + Files.readString(verdict).strip().split(" ")[0];
            } else {
                probed = "; not probed yet (the first `kiln run` boots a probe VM under KVM)";
            }
        } catch (IOException e) {
            probed = "; probe verdict unreadable: " + e.getMessage();
        }
        boolean opens = AcceleratorChoice.kvmOpens();
        // TCG always works: a missing KVM slows guests down but is not a missing prerequisite.
        return new Finding("kvm", true, (opens ? "/dev/kvm opens" : "/dev/kvm unusable: guests run under TCG emulation")
                + probed, "load kvm_intel or kvm_amd and give Kiln access to /dev/kvm for native speed");
    }

    private static Finding cgroups() {
        try {
            Cgroups cgroups = Cgroups.detect();
            return new Finding("cgroups", true, cgroups.version() == Cgroups.Version.V2
                    ? "cgroup v2 with cpu and memory" : "cgroup v1 cpu and memory hierarchies", "");
        } catch (KilnException e) {
            return new Finding("cgroups", false, e.getMessage(), "mount cgroup2 with the cpu and memory controllers");
        }
    }

    private static Finding vmmUser(EngineConfig config) {
        boolean exists = HostCommand.execute(List.of("id", "-u", config.vmmUser()), null).ok();
        return new Finding("vmm user", exists, exists ? config.vmmUser() : config.vmmUser() + " does not exist",
                "useradd --system --no-create-home --shell /usr/sbin/nologin " + config.vmmUser() + " (bin/setup does it)");
    }

    private static Finding device(EngineConfig config, String device, String remedy) {
        boolean usable = HostCommand.execute(List.of("setpriv", "--reuid=" + config.vmmUser(), "--regid="
                + config.vmmUser(), "--init-groups", "--", "test", "-r", device, "-a", "-w", device), null).ok();
        return new Finding(device, usable, usable ? "usable by " + config.vmmUser() : "not usable by " + config.vmmUser(),
                remedy);
    }

    private static Finding freeDisk(EngineConfig config) {
        Path dir = config.stateDir();
        while (dir != null && !Files.exists(dir)) {
            dir = dir.getParent();
        }
        try {
            long freeGib = Files.getFileStore(dir == null ? Path.of("/") : dir).getUsableSpace() >> 30;
            return new Finding("free disk", freeGib >= MIN_FREE_GIB, freeGib + " GiB free under " + config.stateDir(),
                    "free at least " + MIN_FREE_GIB + " GiB or move the state with --state-dir / KILN_STATE_DIR");
        } catch (IOException e) {
            return new Finding("free disk", false, e.getMessage(), "check " + config.stateDir());
        }
    }

    private static Finding image(EngineConfig config) {
        var image = new ImageStore(config.imagesDir()).findByName("default");
        return new Finding("default image", image.isPresent(),
                image.map(i -> "default " + i.shortDigest() + ", kernel " + i.kernelVersion()).orElse("not built"),
                "kiln image build default");
    }
}
