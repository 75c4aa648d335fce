package dev.kiln.agent;

import dev.kiln.api.VmLaunch;
import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;

/** The arch a launched VM has on this host, refused when the host does not run it. */
final class LaunchArch {
    private LaunchArch() {}

    /** The launch's arch (a server older than the field names none: the host's own), if this host runs it. */
    static Arch of(VmLaunch launch, Capacity capacity) {
        Arch arch = launch.arch() == null ? capacity.arch() : Arch.parse(launch.arch()).filter(a -> a != Arch.ANY)
                .orElseThrow(() -> new KilnException(ErrorCode.INVALID_ARGUMENT,
                        "launch " + launch.id() + " asks for arch '" + launch.arch() + "': a VM is x86_64 or arm64"));
        if (arch != capacity.arch() && !capacity.emulated().contains(arch)) {
            throw new KilnException(ErrorCode.INSUFFICIENT_CAPACITY, ("this %s host does not run %s VMs: its agent offers"
                    + " them under emulation when started with --emulate %s").formatted(capacity.arch(), arch, arch));
        }
        return arch;
    }
}
