package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Claims on VMs' runner registrations (SQLite, the clock moved by the test): a replica killed while registering
 * leaves claims that run out within half a minute (they held the VMs' launches for 15), while a live registration
 * keeps its claims however long it takes.
 */
@Timeout(60)
class LaunchCredentialsTest {
    static final String VM = "vm-claimed";

    @TempDir
    Path dir;

    static LaunchCredentials.Claim claim(StoreFixture store, LaunchCredentials holder) {
        return store.db.tx(tx -> holder.claim(tx, VM, store.clock.millis()));
    }

    @Test
    void theClaimOfAReplicaKilledWhileRegisteringRunsOutWithinHalfAMinute() {
        try (StoreFixture store = new StoreFixture("jdbc:sqlite:" + dir.resolve("kiln.db"))) {
            assertThat(claim(store, new LaunchCredentials())).isEqualTo(LaunchCredentials.Claim.OURS); // then SIGKILL
            LaunchCredentials other = new LaunchCredentials();
            assertThat(claim(store, other)).isEqualTo(LaunchCredentials.Claim.TAKEN);
            store.clock.advance(Duration.ofSeconds(30));
            assertThat(claim(store, other)).as("the dead replica's claim ran out").isEqualTo(LaunchCredentials.Claim.OURS);
        }
    }

    @Test
    void aLiveRegistrationKeepsItsClaimHoweverLongItTakes() {
        try (StoreFixture store = new StoreFixture("jdbc:sqlite:" + dir.resolve("kiln.db"))) {
            LaunchCredentials live = new LaunchCredentials();
            LaunchCredentials other = new LaunchCredentials();
            assertThat(claim(store, live)).isEqualTo(LaunchCredentials.Claim.OURS);
            String result = live.renewing(store.db, store.clock, List.of(VM), () -> {
                // Retries and a rate-limit wait: four leases pass while the runner is being registered.
                store.clock.advance(LaunchCredentials.LEASE.multipliedBy(4));
                await().atMost(Duration.ofSeconds(20)).until(() -> store.db.tx(tx -> tx.queryOne(
                        "SELECT expires_at FROM launch_claims WHERE vm_id = ?", row -> row.getLong(1), VM)).orElseThrow()
                        > store.clock.millis());
                assertThat(claim(store, other)).as("renewed while registering").isEqualTo(LaunchCredentials.Claim.TAKEN);
                return "registered";
            });
            assertThat(result).isEqualTo("registered");
            store.clock.advance(LaunchCredentials.LEASE);
            assertThat(claim(store, other)).as("no longer renewed once the registration returned")
                    .isEqualTo(LaunchCredentials.Claim.OURS);
        }
    }
}
