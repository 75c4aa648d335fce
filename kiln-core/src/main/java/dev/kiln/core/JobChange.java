package dev.kiln.core;

import static java.util.Objects.requireNonNull;

/**
 * Something that happened to a job and may change its state: what {@link JobLife} is asked about. Each kind
 * carries why it happened, in words for the job's timeline ({@link #detail()}), and what the store records
 * with it (an exit code, an error code).
 */
public sealed interface JobChange {
    /** The words the timeline shows for this step. */
    String detail();

    /** The error code recorded with the step, or null. */
    default ErrorCode errorCode() {
        return null;
    }

    /** A job was submitted (a local command) or a provider asked for a runner: the one way a job comes to be. */
    record Submitted(String detail) implements JobChange {
        public Submitted {
            requireNonNull(detail, "detail is null");
        }
    }

    /** The scheduler reserved room for the job: a VM on a host. */
    record Placed(String host, String vm) implements JobChange {
        public Placed {
            requireNonNull(host, "host is null");
            requireNonNull(vm, "vm is null");
        }

        @Override
        public String detail() {
            return "reserved on host " + host + " as VM " + vm;
        }
    }

    /** No registered host could ever hold the job (a local one: a provider's job waits instead). */
    record Unplaceable(String reason) implements JobChange {
        public Unplaceable {
            requireNonNull(reason, "reason is null");
        }

        @Override
        public String detail() {
            return reason;
        }

        @Override
        public ErrorCode errorCode() {
            return ErrorCode.INSUFFICIENT_CAPACITY;
        }
    }

    /**
     * The job cannot run as asked and retrying will not help: a provider's labels name no size Kiln can run, or
     * the provider refused the runner (a permission).
     */
    record Rejected(ErrorCode errorCode, String detail) implements JobChange {
        public Rejected {
            requireNonNull(errorCode, "errorCode is null");
            requireNonNull(detail, "detail is null");
        }
    }

    /** The job's VM is booting. */
    record Booting(String detail) implements JobChange {
        public Booting {
            requireNonNull(detail, "detail is null");
        }
    }

    /** The job runs: its VM is up, or (a provider's job) its runner took a job. */
    record Started(String detail) implements JobChange {
        public Started {
            requireNonNull(detail, "detail is null");
        }
    }

    /** The command ended with an exit code: 0 succeeds, anything else fails. */
    record Exited(int exitCode) implements JobChange {
        @Override
        public String detail() {
            return "the command exited with " + exitCode;
        }
    }

    /** The VM failed (it did not boot, crashed, ran past its deadline): the job fails with the VM's reason. */
    record LaunchFailed(ErrorCode errorCode, String detail) implements JobChange {
        public LaunchFailed {
            requireNonNull(errorCode, "errorCode is null");
            requireNonNull(detail, "detail is null");
        }
    }

    /**
     * The provider says how the job ended (a runner's exit code says nothing of it): {@code result} is
     * SUCCEEDED, FAILED or CANCELLED.
     */
    record Concluded(JobState result, String detail) implements JobChange {
        public Concluded {
            requireNonNull(result, "result is null");
            requireNonNull(detail, "detail is null");
            if (result != JobState.SUCCEEDED && result != JobState.FAILED && result != JobState.CANCELLED) {
                throw new IllegalArgumentException("a provider concludes a job as SUCCEEDED, FAILED or CANCELLED, not " + result);
            }
        }
    }

    /**
     * The job was cancelled: by whom ({@code "request"} for the API or CLI, a provider's name when the provider's
     * job went away, the reaper when its runner took no job) and why.
     */
    record Cancelled(String by, String why) implements JobChange {
        public Cancelled {
            requireNonNull(by, "by is null");
            requireNonNull(why, "why is null");
        }

        @Override
        public String detail() {
            return why;
        }

        @Override
        public ErrorCode errorCode() {
            return ErrorCode.CANCELLED;
        }
    }

    /**
     * The job never started and goes back to the queue to run elsewhere as if new: its host was lost before its
     * VM started, its VM vanished while booting, or its launch stalled (a runner credential that could not be had).
     */
    record Requeued(String why) implements JobChange {
        public Requeued {
            requireNonNull(why, "why is null");
        }

        @Override
        public String detail() {
            return why + "; queued again";
        }
    }

    /** The job had started and its VM is gone without a result (its host went silent, the VM vanished). */
    record Lost(String why) implements JobChange {
        public Lost {
            requireNonNull(why, "why is null");
        }

        @Override
        public String detail() {
            return why;
        }

        @Override
        public ErrorCode errorCode() {
            return ErrorCode.JOB_LOST;
        }
    }
}
