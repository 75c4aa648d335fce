package dev.kiln.core;

import static dev.kiln.core.Fixtures.T0;
import static dev.kiln.core.Fixtures.host;
import static dev.kiln.core.Fixtures.hostId;
import static dev.kiln.core.Fixtures.hostWithState;
import static dev.kiln.core.Fixtures.id;
import static dev.kiln.core.Fixtures.job;
import static dev.kiln.core.Fixtures.prioritised;
import static dev.kiln.core.Fixtures.queue;
import static dev.kiln.core.Fixtures.size;
import static dev.kiln.core.Fixtures.withJob;
import static dev.kiln.core.Fixtures.withJobs;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.SchedulingResult.Placement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class SchedulerTest {
    private final TestingClock clock = new TestingClock(T0);

    private SchedulingResult schedule(SchedulerConfig config, List<PendingJob> queue, Host... hosts) {
        return new Scheduler(config, clock).schedule(queue, List.of(hosts));
    }

    private SchedulingResult schedule(List<PendingJob> queue, Host... hosts) {
        return schedule(SchedulerConfig.defaults(), queue, hosts);
    }

    @Nested
    class BestFit {
        @Test
        void choosesTheHostTheJobLeavesWithLeastFreeMemory() {
            Host empty = host("h1", 16, 64);
            Host nearlyFull = withJobs(host("h2", 16, 64), size(4, 48));
            Host halfFull = withJobs(host("h3", 16, 64), size(4, 32));

            SchedulingResult result = schedule(queue(job("j1", 1, size(2, 8))), empty, nearlyFull, halfFull);

            assertThat(result.placements()).containsExactly(new Placement(id("j1"), hostId("h2")));
        }

        @Test
        void breaksMemoryTiesByLeastFreeVcpus() {
            Host manyCpusFree = withJobs(host("h1", 16, 64), size(2, 32));
            Host fewCpusFree = withJobs(host("h2", 16, 64), size(12, 32));

            SchedulingResult result = schedule(queue(job("j1", 1, size(2, 8))), manyCpusFree, fewCpusFree);

            assertThat(result.hostOf(id("j1"))).contains(hostId("h2"));
        }

        @Test
        void fullTiesGoToTheEarlierHost() {
            SchedulingResult result = schedule(queue(job("j1", 1, size(2, 8))), host("h2", 16, 64), host("h1", 16, 64));

            assertThat(result.hostOf(id("j1"))).contains(hostId("h2"));
        }

        @Test
        void keepsTheLargeHoleForTheLargeJobWhereFirstFitDoesNot() {
            List<PendingJob> jobs = queue(job("small", 1, size(4, 16)), job("large", 2, size(8, 64)));
            Host big = host("big", 16, 64);
            Host medium = host("medium", 16, 32);

            SchedulingResult bestFit = schedule(jobs, big, medium);
            SchedulingResult firstFit = schedule(
                    SchedulerConfig.defaults().withStrategy(PlacementStrategy.FIRST_FIT), jobs, big, medium);

            assertThat(bestFit.placements()).containsExactly(
                    new Placement(id("small"), hostId("medium")), new Placement(id("large"), hostId("big")));
            assertThat(firstFit.placements()).containsExactly(new Placement(id("small"), hostId("big")));
            assertThat(firstFit.waitReasonOf(id("large"))).contains(WaitReason.CAPACITY);
        }

        @Test
        void packsABurstOntoAsFewHostsAsPossible() {
            List<PendingJob> jobs = queue();
            for (int i = 0; i < 8; i++) {
                jobs.add(job("j" + i, i, size(2, 8)));
            }

            SchedulingResult result = schedule(jobs, host("h1", 16, 64), host("h2", 16, 64), host("h3", 16, 64));

            assertThat(result.placements()).extracting(Placement::host).containsOnly(hostId("h1"));
        }
    }

    @Nested
    class Arches {
        @Test
        void jobsGoOnlyToHostsOfTheirArch() {
            Host x86 = host("x86", Arch.X86_64, 16, 64);
            Host arm = withJobs(host("arm", Arch.ARM64, 16, 64), size(2, 48, Arch.ARM64));

            SchedulingResult result = schedule(queue(
                    job("arm-job", 1, size(2, 8, Arch.ARM64)),
                    job("x86-job", 2, size(2, 8, Arch.X86_64)),
                    job("arm-too-big", 3, size(2, 32, Arch.ARM64))), x86, arm);

            assertThat(result.hostOf(id("arm-job"))).contains(hostId("arm"));
            assertThat(result.hostOf(id("x86-job"))).contains(hostId("x86"));
            assertThat(result.waitReasonOf(id("arm-too-big"))).contains(WaitReason.CAPACITY);
        }

        @Test
        void anyRunsOnEitherArchAndStillPrefersTheFullestHost() {
            Host x86 = host("x86", Arch.X86_64, 16, 64);
            Host arm = withJobs(host("arm", Arch.ARM64, 16, 64), size(2, 40, Arch.ARM64));

            SchedulingResult result = schedule(queue(job("j1", 1, size(2, 8, Arch.ANY)),
                    job("j2", 2, size(2, 30, Arch.ANY))), x86, arm);

            assertThat(result.hostOf(id("j1"))).contains(hostId("arm"));
            assertThat(result.hostOf(id("j2"))).contains(hostId("x86"));
        }

        @Test
        void armJobsGoToAHostThatEmulatesArmOnlyWhenItsOperatorOffersIt() {
            Host plain = host("plain", Arch.X86_64, 16, 64);
            Host emulating = emulating(host("emulating", Arch.X86_64, 16, 64), Arch.ARM64);

            SchedulingResult result = schedule(queue(job("arm", 1, size(2, 8, Arch.ARM64)),
                    job("x86", 2, size(2, 8, Arch.X86_64))), plain, emulating);
            SchedulingResult withoutOffer = schedule(queue(job("arm", 1, size(2, 8, Arch.ARM64))), plain);

            assertThat(result.hostOf(id("arm"))).contains(hostId("emulating"));
            assertThat(result.hostOf(id("x86"))).isPresent();
            assertThat(withoutOffer.hostOf(id("arm"))).isEmpty();
            assertThat(withoutOffer.rejectionOf(id("arm"))).hasValueSatisfying(reason ->
                    assertThat(reason).contains("no arm64 host is registered", "kiln agent --emulate arm64"));
        }

        @Test
        void aNativeHostIsPreferredToOneThatEmulatesWhileItHasRoom() {
            Host emulating = emulating(host("emulating", Arch.X86_64, 16, 64), Arch.ARM64);
            // The native host is the emptier one: best fit alone would pick the emulating host.
            Host nativeArm = host("native", Arch.ARM64, 16, 64);
            Host fullerEmulating = withJobs(emulating, size(2, 40, Arch.X86_64));

            SchedulingResult result = schedule(queue(job("a1", 1, size(2, 12, Arch.ARM64)),
                    job("a2", 2, size(2, 12, Arch.ARM64))), fullerEmulating, withJobs(nativeArm, size(2, 40, Arch.ARM64)));

            assertThat(result.hostOf(id("a1"))).contains(hostId("native"));
            // The native host has 24 GiB free: the second fills it, no emulation yet.
            assertThat(result.hostOf(id("a2"))).contains(hostId("native"));

            SchedulingResult overflow = schedule(queue(job("a3", 1, size(2, 30, Arch.ARM64))), fullerEmulating,
                    withJobs(nativeArm, size(2, 40, Arch.ARM64)));
            assertThat(overflow.hostOf(id("a3"))).isEmpty();
            SchedulingResult roomOnlyEmulated = schedule(queue(job("a4", 1, size(2, 20, Arch.ARM64))), emulating,
                    withJobs(nativeArm, size(2, 60, Arch.ARM64)));
            assertThat(roomOnlyEmulated.hostOf(id("a4"))).contains(hostId("emulating"));
        }

        @Test
        void anyRunsNativelyOnAHostThatAlsoEmulates() {
            Host emulating = emulating(host("emulating", Arch.X86_64, 16, 64), Arch.ARM64);

            SchedulingResult result = schedule(queue(job("j", 1, size(2, 8, Arch.ANY))), emulating);

            assertThat(result.hostOf(id("j"))).contains(hostId("emulating"));
            assertThat(emulating.vmArch(Arch.ANY)).isEqualTo(Arch.X86_64);
            assertThat(emulating.vmArch(Arch.ARM64)).isEqualTo(Arch.ARM64);
            assertThat(emulating.runsNatively(Arch.ARM64)).isFalse();
        }

        @Test
        void aHostCannotEmulateItsOwnArchOrAny() {
            assertThatThrownBy(() -> emulating(host("h", Arch.X86_64, 4, 8), Arch.X86_64))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("another concrete arch");
            assertThatThrownBy(() -> emulating(host("h", Arch.X86_64, 4, 8), Arch.ANY))
                    .isInstanceOf(IllegalArgumentException.class);
        }

        private static Host emulating(Host host, Arch arch) {
            return new Host(host.id(), host.arch(), host.vcpus(), host.memoryMib(), host.diskGib(), host.labels(),
                    host.state(), host.allocations(), java.util.Set.of(arch));
        }
    }

    @Nested
    class Overcommit {
        @Test
        void vcpusAreOvercommittedUpToTheRatio() {
            List<PendingJob> jobs = queue();
            for (int i = 0; i < 6; i++) {
                jobs.add(job("j" + i, i, size(4, 4)));
            }
            Host host = host("h1", 8, 64);

            SchedulingResult noOvercommit = schedule(jobs, host);
            SchedulingResult doubled = schedule(SchedulerConfig.defaults().withVcpuOvercommit(2.0), jobs, host);
            SchedulingResult halfAgain = schedule(SchedulerConfig.defaults().withVcpuOvercommit(1.5), jobs, host);

            assertThat(noOvercommit.placements()).hasSize(2);
            assertThat(doubled.placements()).hasSize(4);
            assertThat(doubled.waitReasonOf(id("j4"))).contains(WaitReason.CAPACITY);
            assertThat(halfAgain.placements()).hasSize(3);
        }

        @Test
        void runningJobsCountAgainstTheOvercommittedVcpus() {
            Host host = withJobs(host("h1", 8, 64), size(8, 8), size(6, 8));

            SchedulingResult result = schedule(SchedulerConfig.defaults().withVcpuOvercommit(2.0),
                    queue(job("fits", 1, size(2, 4)), job("too-many", 2, size(1, 4))), host);

            assertThat(result.hostOf(id("fits"))).contains(hostId("h1"));
            assertThat(result.waitReasonOf(id("too-many"))).contains(WaitReason.CAPACITY);
        }

        @Test
        void noJobGetsMoreVcpusThanItsHostHas() {
            SchedulingResult result = schedule(SchedulerConfig.defaults().withVcpuOvercommit(4.0),
                    queue(job("j1", 1, size(16, 8))), host("h1", 8, 64));

            assertThat(result.placements()).isEmpty();
            assertThat(result.rejectionOf(id("j1"))).contains("job j1 needs 8 GiB memory and 16 vCPUs (x86_64);"
                    + " the largest x86_64 host is h1 with 64 GiB and 8 vCPUs");
        }

        @Test
        void memoryIsNeverOvercommitted() {
            Host host = withJobs(host("h1", 16, 32), size(2, 12));

            SchedulingResult result = schedule(SchedulerConfig.defaults().withVcpuOvercommit(16.0), queue(
                    job("j1", 1, size(1, 16)),
                    job("j2", 2, size(1, 8)),
                    job("j3", 3, size(1, 4)),
                    job("j4", 4, size(1, 1))), host);

            assertThat(result.placements()).extracting(Placement::job).containsExactly(id("j1"), id("j3"));
            assertThat(result.waitReasonOf(id("j2"))).contains(WaitReason.CAPACITY);
            assertThat(result.waitReasonOf(id("j4"))).contains(WaitReason.CAPACITY);
        }

        @Test
        void diskIsNeverOvercommitted() {
            Host host = Host.active(hostId("h1"), Arch.X86_64, 16, 64 * 1024, 50);
            Size diskHeavy = Size.of(1, 1, 30, Arch.X86_64);

            SchedulingResult result = schedule(queue(job("j1", 1, diskHeavy), job("j2", 2, diskHeavy)), host);

            assertThat(result.placements()).extracting(Placement::job).containsExactly(id("j1"));
            assertThat(result.waitReasonOf(id("j2"))).contains(WaitReason.CAPACITY);
        }
    }

    @Nested
    class Limits {
        private final SchedulerConfig capped = SchedulerConfig.defaults().withLimits(
                new ConcurrencyLimits(2, ConcurrencyLimits.UNLIMITED, Map.of("big-org", 10), Map.of("acme/api", 1)));

        @Test
        void organisationLimitCountsRunningAndReservedJobs() {
            Host host = withJob(host("h1", 64, 256), "running-1", size(1, 1), "acme", "acme/web");

            SchedulingResult result = schedule(capped, queue(
                    job("a1", 1, size(1, 1), "acme", "acme/web"),
                    job("a2", 2, size(1, 1), "ACME", "acme/docs"),
                    job("b1", 3, size(1, 1), "beta", "beta/app")), host);

            assertThat(result.placements()).extracting(Placement::job).containsExactly(id("a1"), id("b1"));
            assertThat(result.waitReasonOf(id("a2"))).contains(WaitReason.ORG_LIMIT);
        }

        @Test
        void organisationOverrideRaisesTheLimit() {
            List<PendingJob> jobs = queue();
            for (int i = 0; i < 12; i++) {
                jobs.add(job("j" + i, i, size(1, 1), "big-org", "big-org/r" + i));
            }

            SchedulingResult result = schedule(capped, jobs, host("h1", 64, 256));

            assertThat(result.placements()).hasSize(10);
            assertThat(result.waiting()).extracting(SchedulingResult.Waiting::reason)
                    .containsOnly(WaitReason.ORG_LIMIT).hasSize(2);
        }

        @Test
        void repositoryLimitHoldsOnlyThatRepository() {
            SchedulerConfig config = capped.withLimits(
                    new ConcurrencyLimits(ConcurrencyLimits.UNLIMITED, 5, Map.of(), Map.of("acme/api", 1)));
            Host host = withJob(hostWithState("h0", 64, 256, HostState.DRAINING), "running-1", size(1, 1), "acme",
                    "acme/api");

            SchedulingResult result = schedule(config, queue(
                    job("api", 1, size(1, 1), "acme", "acme/api"),
                    job("web", 2, size(1, 1), "acme", "acme/web")), host, host("h1", 64, 256));

            assertThat(result.waitReasonOf(id("api"))).contains(WaitReason.REPO_LIMIT);
            assertThat(result.hostOf(id("web"))).contains(hostId("h1"));
        }

        @Test
        void orgCapsLowerALimitButNeverRaiseOne() {
            ConcurrencyLimits limits = capped.limits().withOrgCaps(Map.of("Big-Org", 3, "acme", 5, "gamma", 1));

            assertThat(limits.forOrg("big-org")).as("capped below its override").isEqualTo(3);
            assertThat(limits.forOrg("acme")).as("a cap above the default per-org limit").isEqualTo(2);
            assertThat(limits.forOrg("GAMMA")).isEqualTo(1);
            assertThat(limits.forOrg("other")).isEqualTo(2);
            assertThat(limits.forRepo("acme/api")).isEqualTo(1);
        }

        @Test
        void defaultIsUnlimited() {
            List<PendingJob> jobs = queue();
            for (int i = 0; i < 50; i++) {
                jobs.add(job("j" + i, i, size(1, 1)));
            }

            assertThat(schedule(jobs, host("h1", 64, 256)).placements()).hasSize(50);
        }

        @Test
        void limitOfZeroHoldsEveryJob() {
            SchedulerConfig paused = SchedulerConfig.defaults()
                    .withLimits(new ConcurrencyLimits(ConcurrencyLimits.UNLIMITED, ConcurrencyLimits.UNLIMITED,
                            Map.of("acme", 0), Map.of()));

            SchedulingResult result = schedule(paused, queue(job("j1", 1, size(1, 1))), host("h1", 8, 8));

            assertThat(result.waitReasonOf(id("j1"))).contains(WaitReason.ORG_LIMIT);
        }
    }

    @Nested
    class Order {
        @Test
        void fifoWithinAPriorityWhateverTheInputOrder() {
            SchedulingResult result = schedule(queue(
                    job("third", 30, size(4, 16)),
                    job("first", 10, size(4, 16)),
                    job("second", 20, size(4, 16))), host("h1", 16, 32));

            assertThat(result.placements()).extracting(Placement::job).containsExactly(id("first"), id("second"));
            assertThat(result.waitReasonOf(id("third"))).contains(WaitReason.CAPACITY);
        }

        @Test
        void higherPriorityGoesFirst() {
            SchedulingResult result = schedule(queue(
                    prioritised("early-low", 1, size(4, 16), 0),
                    prioritised("late-high", 2, size(4, 16), 5),
                    prioritised("negative", 0, size(4, 16), -1)), host("h1", 16, 16));

            assertThat(result.placements()).extracting(Placement::job).containsExactly(id("late-high"));
            assertThat(result.waiting()).extracting(SchedulingResult.Waiting::job)
                    .containsExactly(id("early-low"), id("negative"));
        }

        @Test
        void laterSmallerJobsFillRoomTheHeadJobCannotUse() {
            Host host = withJobs(host("h1", 16, 64), size(8, 40));

            SchedulingResult result = schedule(queue(
                    job("large-head", 1, size(8, 32)),
                    job("small", 2, size(2, 8)),
                    job("medium", 3, size(4, 16))), host);

            assertThat(result.waitReasonOf(id("large-head"))).contains(WaitReason.CAPACITY);
            assertThat(result.placements()).extracting(Placement::job).containsExactly(id("small"), id("medium"));
        }

        @Test
        void everyJobHasExactlyOneOutcome() {
            SchedulingResult result = schedule(queue(
                    job("placed", 1, size(2, 8)),
                    job("waits", 2, size(16, 64)),
                    job("rejected", 3, size(2, 512))), withJobs(host("h1", 16, 64), size(1, 1)));

            assertThat(result.placements()).extracting(Placement::job).containsExactly(id("placed"));
            assertThat(result.waiting()).extracting(SchedulingResult.Waiting::job).containsExactly(id("waits"));
            assertThat(result.rejections()).extracting(SchedulingResult.Rejection::job).containsExactly(id("rejected"));
        }
    }

    @Nested
    class HeadOfLineHold {
        private final SchedulerConfig config = SchedulerConfig.defaults().withHoldHostsAfter(Duration.ofMinutes(5));

        private List<PendingJob> largeThenSmall() {
            return queue(job("large", 1, size(8, 32)), job("small", 2, size(2, 8)));
        }

        @Test
        void beforeTheWaitSmallJobsPassTheLargeOne() {
            clock.advance(Duration.ofMinutes(4));

            SchedulingResult result = schedule(config, largeThenSmall(), withJobs(host("h1", 16, 64), size(8, 40)));

            assertThat(result.hostOf(id("small"))).contains(hostId("h1"));
        }

        @Test
        void afterTheWaitHostsThatCouldHoldTheLargeJobTakeNothingBehindIt() {
            clock.advance(Duration.ofMinutes(5));

            SchedulingResult result = schedule(config, largeThenSmall(), withJobs(host("h1", 16, 64), size(8, 40)));

            assertThat(result.placements()).isEmpty();
            assertThat(result.waitReasonOf(id("large"))).contains(WaitReason.CAPACITY);
            assertThat(result.waitReasonOf(id("small"))).contains(WaitReason.HELD_FOR_EARLIER_JOB);
        }

        @Test
        void hostsThatCouldNeverHoldTheLargeJobStillTakeSmallOnes() {
            clock.advance(Duration.ofHours(1));
            Host busyBig = withJobs(host("big", 16, 64), size(8, 40));
            Host small = host("small-host", 4, 16);
            Host arm = host("arm", Arch.ARM64, 16, 64);

            SchedulingResult result = schedule(config, queue(
                    job("large", 1, size(8, 32)),
                    job("small", 2, size(2, 8)),
                    job("arm-job", 3, size(2, 8, Arch.ARM64))), busyBig, small, arm);

            assertThat(result.hostOf(id("small"))).contains(hostId("small-host"));
            assertThat(result.hostOf(id("arm-job"))).contains(hostId("arm"));
        }

        @Test
        void higherPriorityJobsAreNotHeld() {
            clock.advance(Duration.ofHours(1));

            SchedulingResult result = schedule(config, queue(
                    prioritised("large", 1, size(8, 32), 0),
                    prioritised("urgent", 2, size(2, 8), 1)), withJobs(host("h1", 16, 64), size(8, 40)));

            assertThat(result.hostOf(id("urgent"))).contains(hostId("h1"));
        }

        @Test
        void theLargeJobIsPlacedOnceTheHeldHostDrains() {
            clock.advance(Duration.ofHours(1));
            Host drained = host("h1", 16, 64);

            SchedulingResult result = schedule(config, largeThenSmall(), drained);

            assertThat(result.placements()).extracting(Placement::job).containsExactly(id("large"), id("small"));
        }

        @Test
        void jobsHeldByALimitHoldNoHosts() {
            clock.advance(Duration.ofHours(1));
            SchedulerConfig limited = config.withLimits(new ConcurrencyLimits(ConcurrencyLimits.UNLIMITED,
                    ConcurrencyLimits.UNLIMITED, Map.of("capped", 0), Map.of()));

            SchedulingResult result = schedule(limited, queue(
                    job("capped-large", 1, size(8, 32), "capped", "capped/x"),
                    job("small", 2, size(2, 8))), withJobs(host("h1", 16, 64), size(8, 40)));

            assertThat(result.hostOf(id("small"))).contains(hostId("h1"));
        }

        @Test
        void zeroWaitIsStrictFifo() {
            SchedulingResult result = schedule(config.withHoldHostsAfter(Duration.ZERO), largeThenSmall(),
                    withJobs(host("h1", 16, 64), size(8, 40)));

            assertThat(result.placements()).isEmpty();
        }

        @Test
        void aStreamOfSmallJobsCannotStarveTheLargeJob() {
            assertThat(passesUntilLargeJobRuns(config)).isBetween(5, 10);
        }

        @Test
        void withoutTheHoldTheStreamStarvesIt() {
            assertThat(passesUntilLargeJobRuns(config.withHoldHostsAfter(Duration.ofDays(365)))).isEqualTo(-1);
        }

        /**
         * Two hosts with room for four small jobs each; every minute the oldest job on each host ends and
         * new small jobs arrive, so a host never empties by itself. Returns the pass in which the large
         * job started, or -1 if it had not after 50 passes.
         */
        private int passesUntilLargeJobRuns(SchedulerConfig schedulerConfig) {
            Scheduler scheduler = new Scheduler(schedulerConfig, clock);
            Simulation sim = new Simulation(List.of(host("h1", 8, 32), host("h2", 8, 32)));
            long sequence = 0;
            for (int i = 0; i < 8; i++) {
                sim.enqueue(job("warm-" + i, sequence++, size(2, 8)));
            }
            sim.apply(scheduler.schedule(sim.queue(), sim.hosts()));
            sim.enqueue(job("large", sequence++, size(8, 32), "acme", "acme/web", 0, clock.instant()));
            for (int pass = 0; pass < 50; pass++) {
                clock.advance(Duration.ofMinutes(1));
                sim.finishOldestOnEachHost();
                for (int i = 0; i < 3; i++) {
                    sim.enqueue(job("small-" + pass + "-" + i, sequence++, size(2, 8), "acme", "acme/web", 0,
                            clock.instant()));
                }
                sim.apply(scheduler.schedule(sim.queue(), sim.hosts()));
                if (sim.isRunning(id("large"))) {
                    return pass;
                }
            }
            return -1;
        }
    }

    @Nested
    class HostStates {
        @Test
        void drainingAndOfflineHostsReceiveNoJobs() {
            SchedulingResult result = schedule(queue(job("j1", 1, size(2, 8)), job("j2", 2, size(2, 8))),
                    hostWithState("draining", 16, 64, HostState.DRAINING),
                    hostWithState("offline", 16, 64, HostState.OFFLINE),
                    withJobs(host("active", 16, 16), size(2, 8)));

            assertThat(result.placements()).containsExactly(new Placement(id("j1"), hostId("active")));
            assertThat(result.waitReasonOf(id("j2"))).contains(WaitReason.CAPACITY);
        }

        @Test
        void jobThatOnlyAnInactiveHostCouldHoldWaitsInsteadOfFailing() {
            SchedulingResult result = schedule(queue(job("j1", 1, size(8, 64))),
                    hostWithState("draining", 16, 64, HostState.DRAINING), host("small", 16, 16));

            assertThat(result.rejections()).isEmpty();
            assertThat(result.waitReasonOf(id("j1"))).contains(WaitReason.NO_ACTIVE_HOST);
        }

        @Test
        void withNoHostRegisteredJobsWait() {
            SchedulingResult result = new Scheduler(SchedulerConfig.defaults(), clock)
                    .schedule(queue(job("j1", 1, size(2, 8))), List.of());

            assertThat(result.waitReasonOf(id("j1"))).contains(WaitReason.NO_ACTIVE_HOST);
        }
    }

    @Nested
    class NeverFits {
        @Test
        void rejectionNamesTheLargestHost() {
            SchedulingResult result = schedule(queue(job("j41", 1, size(4, 64))),
                    host("h1", 8, 16), host("h3", 16, 32), host("h2", 8, 32),
                    hostWithState("h4", 4, 8, HostState.OFFLINE));

            assertThat(result.placements()).isEmpty();
            assertThat(result.rejections()).containsExactly(new SchedulingResult.Rejection(id("j41"),
                    "job j41 needs 64 GiB memory and 4 vCPUs (x86_64); the largest x86_64 host is h3 with 32 GiB"
                            + " and 16 vCPUs"));
        }

        @Test
        void rejectionWhenNoHostHasTheArch() {
            SchedulingResult result = schedule(queue(job("j1", 1, size(2, 4, Arch.ARM64))),
                    host("h1", 16, 64), host("h2", 8, 128));

            assertThat(result.rejectionOf(id("j1"))).contains("job j1 needs 4 GiB memory and 2 vCPUs (arm64); no arm64"
                    + " host is registered (the largest host is h2, x86_64, with 128 GiB and 8 vCPUs); a host of another"
                    + " arch runs arm64 VMs under emulation once started with `kiln agent --emulate arm64`");
        }

        @Test
        void rejectionMentionsDiskWhenDiskIsShort() {
            SchedulingResult result = schedule(queue(job("j1", 1, Size.of(2, 4, 2000, Arch.ANY))),
                    host("h1", 16, 64), host("h2", Arch.ARM64, 8, 16));

            assertThat(result.rejectionOf(id("j1"))).contains("job j1 needs 4 GiB memory, 2 vCPUs and 2000 GiB disk"
                    + " (any arch); the largest host is h1 with 64 GiB, 16 vCPUs and 1000 GiB disk");
        }

        @Test
        void jobThatFitsAFullHostWaits() {
            SchedulingResult result = schedule(queue(job("j1", 1, size(16, 64))),
                    withJobs(host("h1", 16, 64), size(1, 1)));

            assertThat(result.rejections()).isEmpty();
            assertThat(result.waitReasonOf(id("j1"))).contains(WaitReason.CAPACITY);
        }
    }

    @Nested
    class Input {
        @Test
        void jobQueuedTwiceFails() {
            assertThatThrownBy(() -> schedule(queue(job("j1", 1, size(1, 1)), job("j1", 2, size(1, 1))),
                    host("h1", 4, 4))).hasMessage("job j1 is queued twice");
        }

        @Test
        void hostListedTwiceFails() {
            assertThatThrownBy(() -> schedule(queue(), host("h1", 4, 4), host("h1", 8, 8)))
                    .hasMessage("host h1 is listed twice");
        }

        @Test
        void jobQueuedAndAllocatedFails() {
            Host host = withJob(host("h1", 4, 4), "j1", size(1, 1), "acme", "acme/web");

            assertThatThrownBy(() -> schedule(queue(job("j1", 1, size(1, 1))), host))
                    .hasMessage("job j1 is queued and also allocated on host h1");
        }

        @Test
        void jobAllocatedOnTwoHostsFails() {
            assertThatThrownBy(() -> schedule(queue(),
                    withJob(host("h1", 4, 4), "j1", size(1, 1), "acme", "acme/web"),
                    withJob(host("h2", 4, 4), "j1", size(1, 1), "acme", "acme/web")))
                    .hasMessage("job j1 is allocated on both h1 and h2");
        }
    }
}
