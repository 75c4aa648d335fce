package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.AgentReport;
import dev.kiln.api.JobView;
import dev.kiln.api.SyncAnswer;
import dev.kiln.api.VmLaunch;
import dev.kiln.api.VmReport;
import dev.kiln.api.VmState;
import dev.kiln.core.JobLife;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import dev.kiln.testkit.TestingClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Random lives of many jobs against a real store: seeded sequences of submissions, provider demands, conclusions and
 * releases (a provider's webhooks), scheduling passes, agent reports (skipping states, repeated, stale), cancels,
 * hosts killed and silent past the liveness deadline, hosts back with a new boot, launches stalled while the
 * provider is unreachable, replicas restarted (a store reopened) and, where the store serves several, two replicas
 * racing on one job. After every step the invariants hold: no job runs twice (never two VMs booting or running for
 * one job, on the server or on the agents; never RUNNING again after it ended, never QUEUED again once it ran), no
 * terminal state changes, no job is lost (every job made is stored, only those, each in the state its timeline
 * ends in, every step of the timeline one {@link JobLife} allows). A failure names its seed and the steps so far.
 * Seeded JUnit sequences rather than jqwik: jqwik 1.10.1 is built on JUnit Platform 1.14, this build runs 6.
 */
@Timeout(600)
abstract class JobLifeContract {
    static final int STEPS = 250;
    static final List<String> HOSTS = List.of("h1", "h2", "h3");

    /** A JDBC URL of a new, empty database. */
    abstract String newDatabase();

    /** How many replicas share the store at once (SQLite: one server; PostgreSQL: several). */
    abstract int replicas();

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89})
    void randomLivesKeepTheInvariants(long seed) throws Exception {
        try (World world = new World(newDatabase(), replicas(), seed)) {
            for (int step = 0; step < STEPS; step++) {
                world.step();
                world.check();
            }
            assertThat(world.created).as("seed " + seed + ": the sequences made jobs").hasSizeGreaterThan(10);
            assertThat(world.ended()).as("seed " + seed + ": and ended some").isPositive();
        }
    }

    /** One agent as the test plays it: what it runs and reports. */
    static final class Agent {
        final String host;
        String bootId = "b1";
        long sequence;
        boolean dead;
        final Map<String, VmReport> vms = new TreeMap<>();
        final List<AgentReport> sent = new ArrayList<>();

        Agent(String host) {
            this.host = host;
        }

        AgentReport report() {
            AgentReport report = new AgentReport(bootId, ++sequence, "test", "x86_64", 8, 16 * 1024, 100, null,
                    List.copyOf(vms.values()));
            sent.add(report);
            return report;
        }
    }

    static final class World implements AutoCloseable {
        final String url;
        final long seed;
        final SplittableRandom random;
        final TestingClock clock = new TestingClock();
        final StoreFixture[] replicas;
        final TestingProvider[] providers;
        final Map<String, Agent> agents = new LinkedHashMap<>();
        final List<String> created = Collections.synchronizedList(new ArrayList<>());
        final List<String> demands = Collections.synchronizedList(new ArrayList<>());
        final Map<String, JobState> ended = new HashMap<>();
        final List<String> trace = new ArrayList<>();
        volatile boolean reachable = true;
        final ExecutorService racers = Executors.newFixedThreadPool(2);

        World(String url, int replicaCount, long seed) {
            this.url = url;
            this.seed = seed;
            this.random = new SplittableRandom(seed);
            this.replicas = new StoreFixture[replicaCount];
            this.providers = new TestingProvider[replicaCount];
            for (int i = 0; i < replicaCount; i++) {
                open(i);
            }
            for (String host : HOSTS) {
                replicas[0].hosts.enrol(replicas[0].hosts.add(host).enrolmentToken());
                Agent agent = new Agent(host);
                agents.put(host, agent);
                replicas[0].sync.apply(host, agent.report());
            }
        }

        private void open(int i) {
            replicas[i] = new StoreFixture(url, clock);
            providers[i] = new TestingProvider(replicas[i].db, clock, () -> reachable);
            replicas[i].serve(providers[i]);
        }

        int replica() {
            return random.nextInt(replicas.length);
        }

        <T> T pick(List<T> from) {
            synchronized (from) {
                return from.get(random.nextInt(from.size()));
            }
        }

        /** Mostly a job that has not ended (those are where races and mistakes happen), now and then any. */
        String pickJob(List<String> from) {
            List<String> live;
            synchronized (from) {
                live = from.stream().filter(j -> !ended.containsKey(j)).toList();
            }
            return live.isEmpty() || random.nextInt(5) == 0 ? pick(from) : live.get(random.nextInt(live.size()));
        }

        void step() throws Exception {
            int r = replica();
            int roll = random.nextInt(100);
            if (roll < 12) {
                JobView job = replicas[r].submit(1 + random.nextInt(4), 1 + random.nextInt(8), "true");
                created.add(job.id());
                trace("submit " + job.id() + " on replica " + r);
            } else if (roll < 20) {
                String job = providers[r].demand("repo-" + random.nextInt(3));
                created.add(job);
                demands.add(job);
                trace("demand " + job + " on replica " + r);
            } else if (roll < 32) {
                trace("pass on replica " + r + ": " + replicas[r].pass());
            } else if (roll < 55) {
                Agent agent = agents.get(pick(HOSTS));
                if (!agent.dead) {
                    AgentReport report = converge(agent, replicas[r]);
                    trace("report " + report.sequence() + " of " + agent.host + " to replica " + r + ": " + report.vms());
                    replicas[r].sync.apply(agent.host, report);
                }
            } else if (roll < 58) {
                Agent agent = agents.get(pick(HOSTS));
                if (agent.sent.size() > 1 && !agent.dead) {
                    AgentReport old = agent.sent.get(random.nextInt(agent.sent.size() - 1));
                    boolean applied = replicas[r].sync.apply(agent.host, old);
                    trace("stale report " + old.sequence() + " of " + agent.host + ": applied " + applied);
                    assertThat(applied).as(where("a stale report changes nothing")).isFalse();
                }
            } else if (roll < 64 && !created.isEmpty()) {
                String job = pickJob(created);
                trace("cancel " + job + " on replica " + r + ": " + cancel(replicas[r], job));
            } else if (roll < 70 && !demands.isEmpty()) {
                String job = pickJob(demands);
                JobState result = List.of(JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED).get(random.nextInt(3));
                trace("conclude " + job + " " + result + ": " + providers[r].conclude(job, result));
            } else if (roll < 73 && !demands.isEmpty()) {
                String job = pickJob(demands);
                if (random.nextBoolean()) {
                    trace("release " + job + ": " + providers[r].release(job));
                } else {
                    trace("runner of " + job + " took a job: " + providers[r].runnerTookJob(job));
                }
            } else if (roll < 76) {
                Agent agent = agents.get(pick(HOSTS));
                agent.dead = true;
                agent.vms.clear();
                trace("kill " + agent.host);
            } else if (roll < 81) {
                clock.advance(Duration.ofSeconds(61));
                reportAlive(r);
                trace("liveness after 61 s on replica " + r + ": offline " + replicas[r].liveness.markSilentHostsOffline(
                        Duration.ofSeconds(60)));
            } else if (roll < 85) {
                Agent agent = agents.get(pick(HOSTS));
                if (agent.dead) {
                    agent.dead = false;
                    agent.bootId = "b" + (Integer.parseInt(agent.bootId.substring(1)) + 1);
                    agent.sequence = 0;
                    agent.sent.clear();
                    replicas[r].sync.apply(agent.host, agent.report());
                    trace("revive " + agent.host + " as boot " + agent.bootId);
                }
            } else if (roll < 88) {
                reachable = !reachable;
                trace("provider reachable: " + reachable);
            } else if (roll < 91) {
                clock.advance(Duration.ofMinutes(2).plusSeconds(1));
                reportAlive(r);
                trace("withdraw stalled launches on replica " + r + ": " + replicas[r].withdrawStalled(providers[r]));
            } else if (roll < 94) {
                replicas[r].close();
                open(r);
                trace("restart replica " + r);
            } else {
                race();
            }
        }

        /** Two replicas (or two callers of one) act at once on what one job or one host has. */
        void race() throws Exception {
            if (created.isEmpty()) {
                return;
            }
            String job = pickJob(created);
            Agent agent = agents.get(pick(HOSTS));
            List<Callable<Object>> ops = new ArrayList<>();
            int a = replica();
            int b = replica();
            ops.add(() -> cancel(replicas[a], job));
            if (!agent.dead) {
                AgentReport report = converge(agent, replicas[b]);
                ops.add(() -> replicas[b].sync.apply(agent.host, report));
            }
            ops.add(() -> replicas[b].pass());
            if (demands.contains(job)) {
                ops.add(() -> providers[b].conclude(job, JobState.SUCCEEDED));
                ops.add(() -> providers[b].runnerTookJob(job));
                ops.add(() -> providers[a].release(job));
            }
            Collections.shuffle(ops, new java.util.Random(random.nextLong()));
            Future<Object> first = racers.submit(ops.get(0));
            Future<Object> second = racers.submit(ops.get(1));
            trace("race on " + job + "/" + agent.host + ": " + first.get() + " | " + second.get());
        }

        /** The agent converges to what the server wants, moving its VMs on at random, and says what it has. */
        AgentReport converge(Agent agent, StoreFixture replica) {
            SyncAnswer answer = replica.desired(agent.host);
            Map<String, VmLaunch> wanted = new HashMap<>();
            answer.vms().forEach(vm -> wanted.put(vm.id(), vm));
            // What the server no longer wants is stopped (a cancel) or was reported ended: it goes.
            agent.vms.keySet().removeIf(id -> !wanted.containsKey(id));
            for (String id : wanted.keySet()) {
                VmReport now = agent.vms.get(id);
                int roll = random.nextInt(10);
                VmReport next;
                if (now == null) {
                    next = roll < 6 ? vm(id, VmState.BOOTING) : roll < 9 ? vm(id, VmState.RUNNING) : exited(id);
                } else if (now.state() == VmState.BOOTING) {
                    next = roll < 5 ? vm(id, VmState.RUNNING) : roll < 6 ? failed(id) : now;
                } else if (now.state() == VmState.RUNNING) {
                    next = roll < 4 ? exited(id) : roll < 5 ? failed(id) : now;
                } else {
                    next = now;
                }
                agent.vms.put(id, next);
            }
            return agent.report();
        }

        VmReport vm(String id, VmState state) {
            return new VmReport(id, state, null, null, null);
        }

        VmReport exited(String id) {
            return new VmReport(id, VmState.EXITED, random.nextInt(3) == 0 ? 1 : 0, null, null);
        }

        VmReport failed(String id) {
            return new VmReport(id, VmState.FAILED, null, "GUEST_CRASHED", "the guest stopped without an exit code");
        }

        /** Hosts whose agent lives report (so that only the dead ones fall silent). */
        void reportAlive(int r) {
            for (Agent agent : agents.values()) {
                if (!agent.dead) {
                    replicas[r].sync.apply(agent.host, converge(agent, replicas[r]));
                }
            }
        }

        static String cancel(StoreFixture replica, String job) {
            try {
                return replica.cancel(job).state().name();
            } catch (KilnException e) {
                assertThat(e.getMessage()).contains(job);
                return "refused: " + e.getMessage();
            }
        }

        /** The invariants, read from the store through the first replica. */
        void check() {
            record Event(String job, JobState state) {}
            record Vm(String id, String job, VmState state) {}
            StoreFixture store = replicas[0];
            Map<String, JobState> states = new HashMap<>();
            Map<String, String> kinds = new HashMap<>();
            Map<String, String> vmOf = new HashMap<>();
            store.db.read(tx -> tx.query("SELECT id, state, kind, vm FROM jobs", row -> {
                states.put(row.getString("id"), JobState.valueOf(row.getString("state")));
                kinds.put(row.getString("id"), row.getString("kind"));
                vmOf.put(row.getString("id"), row.getString("vm"));
                return null;
            }));
            List<Event> events = store.db.read(tx -> tx.query("SELECT job_id, state FROM job_events ORDER BY job_id, n",
                    row -> new Event(row.getString(1), JobState.valueOf(row.getString(2)))));
            List<Vm> vms = store.db.read(tx -> tx.query("SELECT id, job_id, state FROM vms",
                    row -> new Vm(row.getString(1), row.getString(2), VmState.valueOf(row.getString(3)))));

            assertThat(states.keySet()).as(where("every job made is stored, and only those"))
                    .containsExactlyInAnyOrderElementsOf(List.copyOf(created));
            Map<String, List<JobState>> timelines = new HashMap<>();
            events.forEach(e -> timelines.computeIfAbsent(e.job(), j -> new ArrayList<>()).add(e.state()));
            for (Map.Entry<String, JobState> job : states.entrySet()) {
                List<JobState> timeline = timelines.get(job.getKey());
                String what = where("job " + job.getKey() + " " + timeline);
                assertThat(timeline).as(what).isNotEmpty().startsWith(JobState.QUEUED).endsWith(job.getValue());
                boolean ran = false;
                for (int i = 1; i < timeline.size(); i++) {
                    JobState from = timeline.get(i - 1);
                    JobState to = timeline.get(i);
                    // The same state twice is a note (why it waits); anything else is a step JobLife allows.
                    assertThat(from == to || JobLife.canLead(from, to)).as(what + ": " + from + " -> " + to).isTrue();
                    ran |= to == JobState.RUNNING && from != JobState.RUNNING;
                    assertThat(ran && to == JobState.QUEUED).as(what + ": queued again after it ran").isFalse();
                }
                assertThat(timeline.stream().filter(s -> s == JobState.RUNNING).distinct().count()).isLessThanOrEqualTo(1);
                JobState before = ended.get(job.getKey());
                if (before != null) {
                    assertThat(job.getValue()).as(what + ": a terminal state never changes").isEqualTo(before);
                } else if (job.getValue().terminal()) {
                    ended.put(job.getKey(), job.getValue());
                }
            }
            Map<String, Integer> started = new HashMap<>();
            Map<String, String> jobOfVm = new HashMap<>();
            for (Vm vm : vms) {
                jobOfVm.put(vm.id(), vm.job());
                if (vm.state() == VmState.BOOTING || vm.state() == VmState.RUNNING) {
                    started.merge(vm.job(), 1, Integer::sum);
                }
                boolean live = vm.state() == VmState.PENDING || vm.state() == VmState.BOOTING || vm.state() == VmState.RUNNING;
                if (live) {
                    assertThat(states.get(vm.job())).as(where("VM " + vm.id() + " holds room for job " + vm.job()))
                            .isNotEqualTo(JobState.QUEUED);
                }
            }
            started.forEach((job, count) -> assertThat(count).as(where("VMs booting or running for job " + job)).isEqualTo(1));
            Map<String, Integer> onAgents = new HashMap<>();
            for (Agent agent : agents.values()) {
                for (VmReport vm : agent.vms.values()) {
                    if (vm.state() == VmState.BOOTING || vm.state() == VmState.RUNNING) {
                        onAgents.merge(jobOfVm.get(vm.id()), 1, Integer::sum);
                    }
                }
            }
            onAgents.forEach((job, count) -> assertThat(count).as(where("VMs the agents run for job " + job)).isEqualTo(1));
            for (Map.Entry<String, JobState> job : states.entrySet()) {
                JobState state = job.getValue();
                if (NewJob.LOCAL.equals(kinds.get(job.getKey()))
                        && (state == JobState.SCHEDULED || state == JobState.STARTING || state == JobState.RUNNING)) {
                    String vm = vmOf.get(job.getKey());
                    assertThat(vms).as(where("job " + job.getKey() + " is " + state + " on VM " + vm))
                            .anySatisfy(v -> {
                                assertThat(v.id()).isEqualTo(vm);
                                assertThat(v.state()).isIn(VmState.PENDING, VmState.BOOTING, VmState.RUNNING);
                            });
                }
            }
        }

        long ended() {
            return ended.size();
        }

        void trace(String what) {
            trace.add(what);
        }

        String where(String what) {
            List<String> last = trace.subList(Math.max(0, trace.size() - 25), trace.size());
            return "seed " + seed + ", step " + trace.size() + ": " + what + "\nlast steps:\n  " + String.join("\n  ", last);
        }

        @Override
        public void close() {
            racers.shutdownNow();
            for (StoreFixture replica : replicas) {
                replica.close();
            }
        }
    }
}
