package dev.kiln.vm;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;

/**
 * Waits for a host-wide file lock by trying it, not by blocking in the kernel. Linux checks a blocking
 * POSIX lock for deadlock by process, not by thread: a `kiln run` whose warm-up thread held the firewall's
 * lock while its main thread waited for the VM ledger's, beside another Kiln doing the reverse on two
 * threads, got EDEADLK ("Resource deadlock avoided") where each would soon have gone on.
 */
final class FileLocks {
    private static final long STEP_MILLIS = 2;

    private FileLocks() {}

    static FileLock lock(FileChannel channel) throws IOException {
        while (true) {
            FileLock lock = channel.tryLock();
            if (lock != null) {
                return lock;
            }
            try {
                Thread.sleep(STEP_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while waiting for a lock");
            }
        }
    }
}
