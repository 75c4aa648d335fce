package dev.kiln.core;

import static dev.kiln.core.Fixtures.T0;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Seeded random fleets, queues, limits and settings run for many passes, with jobs ending and hosts
 * changing state between passes; after every pass the rules must hold.
 */
class SchedulerPropertyTest {
    private static final int PASSES = 60;
    private static final Arch[] JOB_ARCHES = {Arch.X86_64, Arch.X86_64, Arch.ARM64, Arch.ANY};
    private static final HostState[] STATES = {HostState.ACTIVE, HostState.ACTIVE, HostState.DRAINING,
        HostState.OFFLINE};
    private static final String[] ORGS = {"acme", "beta", "gamma"};

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597})
    void noPassBreaksTheRules(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        double ratio = new double[] {1.0, 1.5, 2.0, 3.0}[random.nextInt(4)];
        ConcurrencyLimits limits = new ConcurrencyLimits(
                random.nextBoolean() ? ConcurrencyLimits.UNLIMITED : 1 + random.nextInt(8),
                random.nextBoolean() ? ConcurrencyLimits.UNLIMITED : 1 + random.nextInt(4),
                Map.of("acme", random.nextInt(6)), Map.of());
        SchedulerConfig config = new SchedulerConfig(PlacementStrategy.values()[random.nextInt(2)], ratio, limits,
                Duration.ofMinutes(new int[] {0, 2, 5, 100_000}[random.nextInt(4)]));
        TestingClock clock = new TestingClock(T0);
        Scheduler scheduler = new Scheduler(config, clock);

        List<Host> fleet = new ArrayList<>();
        int hostCount = random.nextInt(7);
        for (int h = 0; h < hostCount; h++) {
            fleet.add(new Host(new HostId("h" + h), random.nextBoolean() ? Arch.X86_64 : Arch.ARM64,
                    1 + random.nextInt(16), 1024L * (1 + random.nextInt(64)), 20 + random.nextInt(200), Set.of(),
                    STATES[random.nextInt(STATES.length)], List.of()));
        }
        Simulation sim = new Simulation(fleet);
        long sequence = 0;
        for (int pass = 0; pass < PASSES; pass++) {
            String where = "seed " + seed + ", pass " + pass + ", " + config;
            for (int n = random.nextInt(12); n > 0; n--) {
                Size size = new Size(1 + random.nextInt(20), 256L * (1 + random.nextInt(300)), 1 + random.nextInt(60),
                        JOB_ARCHES[random.nextInt(JOB_ARCHES.length)]);
                String org = ORGS[random.nextInt(ORGS.length)];
                sim.enqueue(new PendingJob(new JobId("j" + sequence), size, org, org + "/r" + random.nextInt(3),
                        random.nextInt(3), sequence++, clock.instant()));
            }
            List<PendingJob> queue = sim.queue();
            List<Host> hosts = sim.hosts();
            SchedulingResult result = scheduler.schedule(queue, hosts);

            checkOutcomes(where, queue, hosts, result);
            sim.apply(result);
            checkHosts(where, sim.hosts(), ratio);
            checkLimits(where, sim.hosts(), limits);

            clock.advance(Duration.ofMinutes(1));
            for (Host host : sim.hosts()) {
                for (Allocation allocation : host.allocations()) {
                    if (random.nextInt(4) == 0) {
                        sim.finish(allocation.job());
                    }
                }
                if (random.nextInt(10) == 0) {
                    sim.setState(host.id(), STATES[random.nextInt(STATES.length)]);
                }
            }
        }
    }

    private static void checkOutcomes(String where, List<PendingJob> queue, List<Host> hosts,
            SchedulingResult result) {
        Map<JobId, PendingJob> byId = new HashMap<>();
        queue.forEach(job -> byId.put(job.id(), job));
        Map<HostId, Host> hostsById = new HashMap<>();
        hosts.forEach(host -> hostsById.put(host.id(), host));
        List<JobId> outcomes = new ArrayList<>();
        result.placements().forEach(p -> outcomes.add(p.job()));
        result.rejections().forEach(r -> outcomes.add(r.job()));
        result.waiting().forEach(w -> outcomes.add(w.job()));
        assertThat(outcomes).as(where).containsExactlyInAnyOrderElementsOf(byId.keySet());

        Set<JobId> placed = new HashSet<>();
        for (SchedulingResult.Placement placement : result.placements()) {
            Host host = hostsById.get(placement.host());
            Size size = byId.get(placement.job()).size();
            assertThat(host.state()).as(where + ": %s placed on %s", placement.job(), host.id())
                    .isEqualTo(HostState.ACTIVE);
            assertThat(size.arch().runsOn(host.arch())).as(where + ": arch of %s", placement.job()).isTrue();
            assertThat(size.vcpus()).as(where + ": vCPUs of %s", placement.job()).isLessThanOrEqualTo(host.vcpus());
            placed.add(placement.job());
        }
        for (SchedulingResult.Rejection rejection : result.rejections()) {
            Size size = byId.get(rejection.job()).size();
            assertThat(hosts).as(where + ": %s was rejected", rejection.job()).isNotEmpty()
                    .noneMatch(host -> host.couldEverHold(size));
            assertThat(rejection.reason()).startsWith("job " + rejection.job() + " needs ");
        }
        for (SchedulingResult.Waiting waiting : result.waiting()) {
            Size size = byId.get(waiting.job()).size();
            assertThat(hosts.isEmpty() || hosts.stream().anyMatch(host -> host.couldEverHold(size)))
                    .as(where + ": %s waits though no host could hold it", waiting.job()).isTrue();
        }
        // FIFO: of two jobs alike in all but arrival, the later is never placed while the earlier waits.
        for (PendingJob earlier : queue) {
            for (PendingJob later : queue) {
                boolean alike = earlier.sequence() < later.sequence() && earlier.size().equals(later.size())
                        && earlier.org().equals(later.org()) && earlier.repo().equals(later.repo())
                        && earlier.priority() == later.priority();
                if (alike && placed.contains(later.id())) {
                    assertThat(placed).as(where + ": %s placed before %s", later.id(), earlier.id())
                            .contains(earlier.id());
                }
            }
        }
    }

    private static void checkHosts(String where, List<Host> hosts, double ratio) {
        for (Host host : hosts) {
            assertThat(host.reservedMemoryMib()).as(where + ": memory of " + host.id())
                    .isLessThanOrEqualTo(host.memoryMib());
            assertThat(host.reservedDiskGib()).as(where + ": disk of " + host.id())
                    .isLessThanOrEqualTo(host.diskGib());
            assertThat((double) host.reservedVcpus()).as(where + ": vCPUs of " + host.id())
                    .isLessThanOrEqualTo(host.vcpus() * ratio);
        }
    }

    private static void checkLimits(String where, List<Host> hosts, ConcurrencyLimits limits) {
        Map<String, Integer> byOrg = new HashMap<>();
        Map<String, Integer> byRepo = new HashMap<>();
        hosts.stream().flatMap(host -> host.allocations().stream()).forEach(a -> {
            byOrg.merge(a.org(), 1, Integer::sum);
            byRepo.merge(a.repo(), 1, Integer::sum);
        });
        byOrg.forEach((org, count) -> assertThat(count).as(where + ": jobs of " + org)
                .isLessThanOrEqualTo(limits.forOrg(org)));
        byRepo.forEach((repo, count) -> assertThat(count).as(where + ": jobs of " + repo)
                .isLessThanOrEqualTo(limits.forRepo(repo)));
    }
}
