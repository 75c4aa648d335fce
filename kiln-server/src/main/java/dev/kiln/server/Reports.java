package dev.kiln.server;

import dev.kiln.api.AgentReport;
import dev.kiln.api.LogChunk;
import dev.kiln.api.VmReport;
import dev.kiln.api.VmState;
import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/** Checks what agents send before any of it is applied: a bad report is refused whole. */
final class Reports {
    static final int MAX_VMS = 4096;
    static final int MAX_DETAIL = 4096;
    static final int MAX_CHUNKS = 1024;
    static final int MAX_CHUNK_TEXT = 256 * 1024;
    private static final Pattern VM_ID = Pattern.compile("[a-z0-9-]{1,40}");
    static final int MAX_IMAGES = 1024;
    private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
    private static final Pattern TOKEN = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    private Reports() {}

    static void check(AgentReport report) {
        if (report == null) {
            throw invalid("the body must be an agent report");
        }
        if (report.bootId() == null || !TOKEN.matcher(report.bootId()).matches()) {
            throw invalid("bootId must be 1 to 64 of [A-Za-z0-9._-]");
        }
        if (report.sequence() < 0) {
            throw invalid("sequence must not be negative, got " + report.sequence());
        }
        if (report.version() != null && report.version().length() > 64) {
            throw invalid("version is longer than 64 characters");
        }
        Arch arch = report.arch() == null ? null : Arch.parse(report.arch()).orElse(null);
        if (arch == null || arch == Arch.ANY) {
            throw invalid("arch '" + report.arch() + "' is not x86_64 or arm64");
        }
        List<String> emulated = report.emulatedArches() == null ? List.of() : report.emulatedArches();
        if (emulated.size() > 2) {
            throw invalid("emulatedArches lists " + emulated.size() + " arches; there are two");
        }
        for (String id : emulated) {
            Arch other = id == null ? null : Arch.parse(id).orElse(null);
            if (other == null || other == Arch.ANY || other == arch) {
                throw invalid("emulatedArches: '" + id + "' is not an arch other than the host's own " + arch);
            }
        }
        List<String> images = report.images() == null ? List.of() : report.images();
        if (images.size() > MAX_IMAGES) {
            throw invalid("images lists " + images.size() + " digests; at most " + MAX_IMAGES);
        }
        for (String digest : images) {
            if (digest == null || !DIGEST.matcher(digest).matches()) {
                throw invalid("images: '" + digest + "' is not sha256: and 64 lower-case hex digits");
            }
        }
        if (report.vcpus() < 1 || report.vcpus() > 4096 || report.memoryMib() < 1 || report.diskGib() < 1) {
            throw invalid("capacity must be at least 1 vCPU (at most 4096), 1 MiB and 1 GiB; got " + report.vcpus()
                    + " vCPUs, " + report.memoryMib() + " MiB, " + report.diskGib() + " GiB");
        }
        if (report.desiredVersion() != null && report.desiredVersion().length() > 64) {
            throw invalid("desiredVersion is longer than 64 characters");
        }
        List<VmReport> vms = report.vms() == null ? List.of() : report.vms();
        if (vms.size() > MAX_VMS) {
            throw invalid("the report lists " + vms.size() + " VMs; at most " + MAX_VMS + " are allowed");
        }
        Set<String> seen = new HashSet<>();
        for (VmReport vm : vms) {
            if (vm == null || vm.id() == null || !VM_ID.matcher(vm.id()).matches()) {
                throw invalid("a VM id must be 1 to 40 of [a-z0-9-]");
            }
            if (!seen.add(vm.id())) {
                throw invalid("VM " + vm.id() + " is listed twice");
            }
            if (vm.state() == null || !(vm.state() == VmState.BOOTING || vm.state() == VmState.RUNNING
                    || vm.state() == VmState.EXITED || vm.state() == VmState.FAILED)) {
                throw invalid("VM " + vm.id() + " has state " + vm.state() + "; an agent reports BOOTING, RUNNING,"
                        + " EXITED or FAILED");
            }
            if (vm.state() == VmState.EXITED && (vm.exitCode() == null || vm.exitCode() < 0 || vm.exitCode() > 255)) {
                throw invalid("VM " + vm.id() + " EXITED needs an exitCode from 0 to 255, got " + vm.exitCode());
            }
            if (vm.state() == VmState.FAILED) {
                outcome(vm);
            }
            if (vm.detail() != null && vm.detail().length() > MAX_DETAIL) {
                throw invalid("VM " + vm.id() + " has a detail longer than " + MAX_DETAIL + " characters");
            }
            if (vm.sshHostKey() != null && !SSH_PUBLIC_KEY.matcher(vm.sshHostKey()).matches()) {
                throw invalid("VM " + vm.id() + " has an sshHostKey that is not `ssh-ed25519 BASE64` (" + Math.min(
                        vm.sshHostKey().length(), 200) + "+ characters)");
            }
            if (vm.boot() != null) {
                check(vm.id(), vm.boot());
            }
        }
        if (report.cleanupFailures() != null && report.cleanupFailures() < 0) {
            throw invalid("cleanupFailures must not be negative, got " + report.cleanupFailures());
        }
    }

    static final int MAX_PHASES = 16;
    /** A day: a boot reported as longer is not one the histograms should hold. */
    static final double MAX_BOOT_SECONDS = 86_400;
    private static final Pattern PHASE = Pattern.compile("[a-z][a-z0-9_-]{0,31}");

    private static void check(String vm, VmReport.Boot boot) {
        if (boot.imageDigest() == null || !DIGEST.matcher(boot.imageDigest()).matches()) {
            throw invalid("VM " + vm + ": boot.imageDigest '" + boot.imageDigest()
                    + "' is not sha256: and 64 lower-case hex digits");
        }
        if (!(boot.seconds() >= 0 && boot.seconds() <= MAX_BOOT_SECONDS)) {
            throw invalid("VM " + vm + ": boot.seconds must be from 0 to " + (long) MAX_BOOT_SECONDS + ", got " + boot.seconds());
        }
        if (boot.phases().size() > MAX_PHASES) {
            throw invalid("VM " + vm + ": boot.phases lists " + boot.phases().size() + " phases; at most " + MAX_PHASES);
        }
        boot.phases().forEach((name, seconds) -> {
            if (!PHASE.matcher(name).matches()) {
                throw invalid("VM " + vm + ": boot phase '" + (name.length() > 40 ? name.substring(0, 40) + "…" : name)
                        + "' is not 1 to 32 of [a-z0-9_-] starting with a letter");
            }
            if (seconds == null || !(seconds >= 0 && seconds <= MAX_BOOT_SECONDS)) {
                throw invalid("VM " + vm + ": boot phase " + name + " must be from 0 to " + (long) MAX_BOOT_SECONDS
                        + " seconds, got " + seconds);
            }
        });
    }

    /** A VM's host key as its host makes it (SshHostKey): an Ed25519 key's 51 bytes of wire format in base64. */
    private static final java.util.regex.Pattern SSH_PUBLIC_KEY =
            java.util.regex.Pattern.compile("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}=?");

    /** The error code a FAILED VM gives its job. */
    static ErrorCode outcome(VmReport vm) {
        try {
            return ErrorCode.valueOf(String.valueOf(vm.outcome()));
        } catch (IllegalArgumentException e) {
            throw invalid("VM " + vm.id() + " FAILED with outcome '" + vm.outcome()
                    + "'; expected an error code such as BOOT_FAILED, DEADLINE_EXCEEDED or GUEST_CRASHED");
        }
    }

    static void check(List<LogChunk> chunks) {
        if (chunks == null) {
            throw invalid("the body must be a list of log chunks");
        }
        if (chunks.size() > MAX_CHUNKS) {
            throw invalid("at most " + MAX_CHUNKS + " log chunks per request, got " + chunks.size());
        }
        for (LogChunk chunk : chunks) {
            if (chunk == null || chunk.vm() == null || !VM_ID.matcher(chunk.vm()).matches()) {
                throw invalid("a log chunk's vm must be 1 to 40 of [a-z0-9-]");
            }
            if (chunk.sequence() < 0) {
                throw invalid("log chunk sequence must not be negative");
            }
            if (!"stdout".equals(chunk.stream()) && !"stderr".equals(chunk.stream())) {
                throw invalid("log chunk stream must be stdout or stderr, got '" + chunk.stream() + "'");
            }
            if (chunk.text() == null || chunk.text().length() > MAX_CHUNK_TEXT) {
                throw invalid("log chunk text must be present and at most " + MAX_CHUNK_TEXT + " characters");
            }
        }
    }

    private static KilnException invalid(String message) {
        return new KilnException(ErrorCode.INVALID_ARGUMENT, "bad agent report: " + message);
    }
}
