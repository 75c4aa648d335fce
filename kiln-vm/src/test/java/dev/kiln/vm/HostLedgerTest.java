package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HostLedgerTest {
    @TempDir
    Path dir;

    private static HostLedger.Claim claim(String vmId, int cpus, Path disk) {
        return new HostLedger.Claim(vmId, cpus, 896, 2, disk);
    }

    @Test
    void claimsAreSeenUntilGivenBackAndADeadOwnersEntryIsDropped() throws Exception {
        HostLedger ledger = new HostLedger(dir.resolve("ledger"));
        Path disk = dir.resolve("disk");
        var first = ledger.reserveIf(claim("vm-1", 1, disk), live -> live.isEmpty()).orElseThrow();
        // Decided on what is there: the second sees the first.
        var second = ledger.reserveIf(claim("vm-2", 2, disk), live -> live.size() == 1).orElseThrow();
        assertThat(ledger.reserveIf(claim("vm-3", 1, disk), live -> live.stream()
                .mapToInt(HostLedger.Claim::cpus).sum() + 1 <= 3)).isEmpty();
        List<String> both = ledger.locked(live -> live.stream().map(HostLedger.Claim::vmId).sorted().toList());
        assertThat(both).containsExactly("vm-1", "vm-2");

        first.close();
        List<String> one = ledger.locked(live -> live.stream().map(HostLedger.Claim::vmId).toList());
        assertThat(one).containsExactly("vm-2");
        second.close();

        // An entry nobody holds locked: its owner was killed (kill -9 gives its locks back).
        Files.writeString(dir.resolve("ledger").resolve("vm-dead"), "4 8192 10 " + disk + "\n");
        List<HostLedger.Claim> none = ledger.locked(live -> live);
        assertThat(none).isEmpty();
        assertThat(dir.resolve("ledger").resolve("vm-dead")).doesNotExist();
    }

    @Test
    void aClaimsDiskToComeShrinksAsItsDiskGrows() throws Exception {
        Path disk = dir.resolve("disk");
        HostLedger.Claim claim = claim("vm-1", 1, disk);
        assertThat(claim.diskBytesToCome()).isEqualTo(2L << 30);
        Files.write(disk, new byte[1 << 20]);
        assertThat(claim.diskBytesToCome()).isEqualTo((2L << 30) - (1 << 20));
        assertThat(List.of(claim.line())).containsExactly("1 896 2 " + disk);
    }
}
