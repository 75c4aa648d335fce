package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpHandler;
import dev.kiln.core.Arch;
import dev.kiln.core.JobChange;
import dev.kiln.core.Size;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.InstantSource;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * A provider as the server sees one, for tests of the server's side of the {@link Provider} contract: its
 * "webhooks" are method calls (a demand, a conclusion, a release), and its runner credentials are issued at once
 * unless {@code reachable} says the provider cannot be reached now. Claims make one registration per VM, as a real
 * provider's must.
 */
final class TestingProvider implements Provider {
    static final String KIND = "testing";

    private final Database db;
    private final InstantSource clock;
    private final BooleanSupplier reachable;
    private final LaunchCredentials claims = new LaunchCredentials();
    private final Seal seal = new Seal("testing provider v1\n", "testing-secret".getBytes(StandardCharsets.UTF_8));
    private final AtomicInteger cleanUps = new AtomicInteger();
    private final AtomicInteger reconciliations = new AtomicInteger();

    /** How often the server drove it. */
    record Turns(int cleanUps, int reconciliations) {}

    TestingProvider(Database db, InstantSource clock, BooleanSupplier reachable) {
        this.db = requireNonNull(db, "db is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.reachable = requireNonNull(reachable, "reachable is null");
    }

    /** A queued job of the provider's: one demand of 2 vCPUs and 4 GiB. */
    String demand(String repo) {
        long now = clock.millis();
        return db.tx(tx -> Jobs.create(tx, NewJob.demand(KIND, "runner", Size.of(2, 4, 10, Arch.X86_64), Duration.ofHours(1),
                "acme", "acme/" + repo, java.util.List.of("kiln")), "{}", "runner demand for a " + KIND + " job of acme/" + repo, now));
    }

    /**
     * The provider says the demand's runner took a job (GitHub's {@code in_progress}): it may say so before the agent
     * reports the VM up.
     */
    Jobs.Move runnerTookJob(String job) {
        long now = clock.millis();
        return db.tx(tx -> Jobs.move(tx, job, new JobChange.Started("the runner of " + job + " took a " + KIND + " job"), now));
    }

    /** The provider says how its job ended. */
    Jobs.Move conclude(String job, dev.kiln.core.JobState result) {
        long now = clock.millis();
        return db.tx(tx -> Jobs.move(tx, job, new JobChange.Concluded(result, KIND + " concluded " + result), now));
    }

    /** The provider's job went away before a runner took it: the demand is cancelled and its VM stopped. */
    Jobs.Move release(String job) {
        long now = clock.millis();
        return db.tx(tx -> {
            Jobs.Move move = Jobs.move(tx, job, new JobChange.Cancelled(KIND, "the job was cancelled on " + KIND), now);
            if (move.moved()) {
                String vm = tx.queryOne("SELECT vm FROM jobs WHERE id = ? AND vm IS NOT NULL", row -> row.getString(1), job).orElse(null);
                if (vm != null) {
                    Vms.stop(tx, vm, now);
                }
            }
            return move;
        });
    }

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public Map<String, HttpHandler> intake() {
        return Map.of();
    }

    @Override
    public Set<String> issueCredentials(List<String> vmIds) {
        Set<String> issued = new HashSet<>();
        if (!reachable.getAsBoolean()) {
            return issued;
        }
        long now = clock.millis();
        for (String vm : vmIds) {
            db.tx(tx -> {
                switch (claims.claim(tx, vm, now)) {
                    case OURS -> {
                        if (LaunchCredentials.store(tx, vm, seal.seal("credential of " + vm))) {
                            issued.add(vm);
                        }
                    }
                    case ISSUED -> issued.add(vm);
                    case TAKEN -> { }
                }
                return null;
            });
        }
        return issued;
    }

    @Override
    public String openCredential(String sealed) {
        return seal.open(sealed);
    }

    @Override
    public Optional<String> unavailable() {
        return reachable.getAsBoolean() ? Optional.empty() : Optional.of(KIND + " is unavailable (HTTP 503)");
    }

    Turns turns() {
        return new Turns(cleanUps.get(), reconciliations.get());
    }

    @Override
    public void reconcile() {
        reconciliations.incrementAndGet();
    }

    @Override
    public void cleanUp() {
        cleanUps.incrementAndGet();
    }

    @Override
    public Timing timing() {
        return new Timing(Duration.ofSeconds(1), Duration.ofMinutes(3), Duration.ofMinutes(2));
    }
}
