package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.time.Instant;
import java.util.function.Supplier;

/**
 * How long a boot may take before it counts as failed. A guest that gets little CPU boots slowly, so on a busy
 * host the boot deadline moves on, a boot timeout at a time, up to {@link #BUSY_FACTOR} boot timeouts in all;
 * a boot that fails even so is said to have failed on a busy host, not blamed on a broken one.
 */
final class BootPatience {
    /** A boot on a busy host may take this many boot timeouts before it counts as failed. */
    static final int BUSY_FACTOR = 3;

    enum Verdict {
        /** The deadline has not passed. */
        WAIT,
        /** The deadline passed on a busy host and moved on (said once per boot, for the log). */
        EXTENDED,
        /** The deadline moved on before and passed again on a busy host: keep waiting, nothing new to say. */
        STILL_EXTENDED,
        /** The boot failed: {@link #load()} says whether the host was busy. */
        FAILED
    }

    private final Instant started;
    private final Duration bootTimeout;
    private final Supplier<String> busy;
    private Instant deadline;
    private boolean extended;
    private String load;

    /** {@code busy} gives the host's load when it is busy, else null (see {@link HostLoad}). */
    BootPatience(Instant started, Duration bootTimeout, Supplier<String> busy) {
        this.started = requireNonNull(started, "started is null");
        this.bootTimeout = requireNonNull(bootTimeout, "bootTimeout is null");
        this.busy = requireNonNull(busy, "busy is null");
        this.deadline = started.plus(bootTimeout);
    }

    /** The longest a boot may take, busy host or not. */
    Duration limit() {
        return bootTimeout.multipliedBy(BUSY_FACTOR);
    }

    Verdict check(Instant now) {
        if (!now.isAfter(deadline)) {
            return Verdict.WAIT;
        }
        load = busy.get();
        Instant limit = started.plus(limit());
        if (load != null && now.isBefore(limit)) {
            Instant next = now.plus(bootTimeout);
            deadline = next.isAfter(limit) ? limit : next;
            boolean first = !extended;
            extended = true;
            return first ? Verdict.EXTENDED : Verdict.STILL_EXTENDED;
        }
        return Verdict.FAILED;
    }

    /** The host's load at the last check past a deadline; null when it was not busy. */
    String load() {
        return load;
    }
}
