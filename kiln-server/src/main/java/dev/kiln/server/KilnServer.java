package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpServer;
import dev.kiln.core.Scheduler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control plane, assembled: store (migrated at start), API on {@code /api/v1}, scheduling loop,
 * liveness loop, each configured {@link Provider} (its intake on this listener, its loop on this clock) and, on
 * PostgreSQL, the listener that carries other replicas' changes. Requests run on virtual threads, so a held sync
 * costs no platform thread.
 */
public final class KilnServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KilnServer.class);

    private final ServerConfig config;
    private final Database db;
    private final PgNotifier notifier;
    private final SchedulingLoop scheduling;
    private final LivenessLoop liveness;
    private final HttpServer http;
    private final ExecutorService requests;
    private final List<ProviderLoop> providers;
    /** The image pipeline, or null where this server keeps no images fresh. */
    private final dev.kiln.server.images.ImagePipeline pipeline;
    /** The SSH gateway for debugging shells, or null. */
    private final dev.kiln.server.ssh.SshGateway ssh;
    private final DeliveryMemory deliveryMemory = new DeliveryMemory(DeliveryMemory.DEFAULT_BYTES, DeliveryMemory.DEFAULT_WAIT);

    private KilnServer(ServerConfig config, InstantSource clock, dev.kiln.images.ImageStore images,
            List<Provider.Factory> factories, dev.kiln.server.images.ImagePipeline.Factory pipelineFactory,
            dev.kiln.server.ssh.SshGateway.Config sshConfig) {
        this.config = config;
        Signals signals = new Signals();
        this.db = new Database(config.databaseUrl(), config.databaseUser(), config.databasePassword(), signals);
        PgNotifier pg = null;
        HttpServer server = null;
        dev.kiln.server.ssh.SshGateway ssh = null;
        List<Provider> made = new ArrayList<>();
        dev.kiln.server.images.ImagePipeline madePipeline = null;
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        try {
            if (db.dialect() == Dialect.POSTGRESQL) {
                pg = new PgNotifier(db, config.databaseUser(), config.databasePassword(), signals);
            }
            java.util.function.UnaryOperator<String> digests = name -> images == null ? name
                    : images.findByName(name).map(dev.kiln.images.ImageManifest::digest).orElse(name);
            WebhookOutcomes webhookOutcomes = new WebhookOutcomes();
            ProviderContext context = new ProviderContext(db, clock, config.labels(), digests, config.maxTimeout(),
                    deliveryMemory, webhookOutcomes, sshConfig != null);
            Map<String, Provider> byKind = new TreeMap<>();
            for (Provider.Factory factory : factories) {
                Provider provider = factory.create(context);
                made.add(provider);
                if (byKind.put(provider.kind(), provider) != null || provider.kind().equals(NewJob.LOCAL)) {
                    throw new IllegalArgumentException("two providers serve jobs of kind " + provider.kind());
                }
            }
            if (pipelineFactory != null) {
                madePipeline = pipelineFactory.create(db, clock, requireNonNull(images, "an image pipeline needs images"));
            }
            java.util.function.Supplier<List<String>> prefetch = madePipeline == null ? List::of : madePipeline::prefetch;
            EnvSeal envs = new EnvSeal(config.adminToken());
            EnvResealing.run(db, envs);
            var stores = new ApiHandler.Stores(new JobStore(db, clock, envs, byKind), new HostStore(db, clock),
                    new SyncStore(db, clock, byKind, envs, new LaunchImages(images), prefetch), new VmStore(db), new LogStore(db), new JobRequests(config.labels(),
                    config.defaultImage(), config.defaultTimeout(), config.maxTimeout(), digests));
            // Not HttpServer.create: the JDK's defaults close kept-alive connections under agents (see HttpServers).
            server = HttpServers.create(new InetSocketAddress(config.bindAddress(), config.port()), 1024);
            ApiHandler.Ssh sshApi = null;
            if (sshConfig != null) {
                OrgKeys orgKeys = new OrgKeys(sshConfig.orgKeys());
                SshStore sshStore = new SshStore(db, stores.hosts(), orgKeys);
                ssh = dev.kiln.server.ssh.SshGateway.start(sshConfig, sshStore, java.time.Clock.systemUTC());
                sshApi = new ApiHandler.Ssh(new dev.kiln.api.SshGatewayInfo(ssh.port(), ssh.hostKey()), sshStore);
                List<String> adminKeys = SshKeys.read(sshConfig.authorizedKeys());
                stores.sync().sshAccess(new SshAccess(() -> adminKeys, orgKeys,
                        advertised(sshConfig.bindAddress()) + ":" + ssh.port()));
            }
            server.createContext("/api/", new ApiHandler(config, stores, signals, sshApi));
            made.forEach(p -> webhookOutcomes.known(p.kind()));
            Metrics metrics = new Metrics(db, stores.hosts(), webhookOutcomes, made);
            server.createContext("/metrics", new MetricsHandler(metrics, config.adminToken()));
            WaitReasons waitReasons = new WaitReasons();
            dev.kiln.server.dashboard.Dashboard.install(server, new ControlPlane(db, clock, config.adminToken(), stores, waitReasons));
            for (Provider provider : made) {
                provider.intake().forEach(server::createContext);
            }
            if (images != null) {
                server.createContext("/api/v1/images/", new ImageHandler(images, stores.hosts()));
            }
            server.setExecutor(executor);
            // A provider's org caps count every Kiln job of the owner, as the scheduler's own organisation limits do.
            dev.kiln.core.SchedulerConfig scheduler = config.scheduler();
            for (Provider provider : made) {
                scheduler = scheduler.withLimits(scheduler.limits().withOrgCaps(provider.orgCaps()));
            }
            this.scheduling = new SchedulingLoop(new SchedulingStore(db, clock), new Scheduler(scheduler, clock),
                    signals, config.schedulingInterval(), metrics, waitReasons);
            this.liveness = new LivenessLoop(new LivenessStore(db, clock), clock, config.offlineAfter(),
                    config.livenessInterval());
        } catch (IOException e) {
            if (ssh != null) {
                ssh.close();
            }
            made.forEach(Provider::close);
            if (madePipeline != null) {
                madePipeline.close();
            }
            db.close();
            executor.shutdownNow();
            throw new UncheckedIOException("cannot listen on " + config.bindAddress() + ":" + config.port(), e);
        } catch (RuntimeException e) {
            if (ssh != null) {
                ssh.close();
            }
            made.forEach(Provider::close);
            if (madePipeline != null) {
                madePipeline.close();
            }
            db.close();
            executor.shutdownNow();
            throw e;
        }
        this.notifier = pg;
        this.pipeline = madePipeline;
        StalledLaunches stalled = new StalledLaunches(db, clock);
        this.providers = made.stream().map(p -> new ProviderLoop(p, stalled, clock)).toList();
        this.http = server;
        this.requests = executor;
        this.ssh = ssh;
    }

    /** The gateway's address as users reach it: its bind address, or this machine's name where it binds them all. */
    private static String advertised(String bindAddress) {
        if (!bindAddress.isEmpty() && !bindAddress.equals("0.0.0.0") && !bindAddress.equals("::")) {
            return bindAddress.contains(":") ? "[" + bindAddress + "]" : bindAddress;
        }
        try {
            return java.net.InetAddress.getLocalHost().getCanonicalHostName();
        } catch (java.net.UnknownHostException e) {
            return "localhost";
        }
    }

    /** Checks the config, migrates the store and starts serving. */
    public static KilnServer start(ServerConfig config, InstantSource clock) {
        return start(config, clock, null);
    }

    /**
     * Starts a server that also serves the images of {@code images} to agents by digest and hands out
     * launches naming an image by its digest there (null: images are the hosts' own business).
     */
    public static KilnServer start(ServerConfig config, InstantSource clock, dev.kiln.images.ImageStore images) {
        return start(config, clock, images, List.of());
    }

    /**
     * Starts a server that also serves the providers {@code factories} make (GitHub, GitLab): each provider's intake
     * on the server's listener, its loop on the server's clock, its jobs' launches with its runner credentials.
     */
    public static KilnServer start(ServerConfig config, InstantSource clock, dev.kiln.images.ImageStore images,
            List<Provider.Factory> factories) {
        return start(config, clock, images, factories, null, null);
    }

    /**
     * Starts a server as {@link #start(ServerConfig, InstantSource, dev.kiln.images.ImageStore, List)} does that may also
     * keep the images of {@code images} fresh with the pipeline {@code pipeline} makes (asking its agents to prefetch
     * what it rolls out), and run the SSH gateway {@code ssh} describes for debugging shells; null leaves either out.
     */
    public static KilnServer start(ServerConfig config, InstantSource clock, dev.kiln.images.ImageStore images,
            List<Provider.Factory> factories, dev.kiln.server.images.ImagePipeline.Factory pipeline,
            dev.kiln.server.ssh.SshGateway.Config ssh) {
        requireNonNull(config, "config is null");
        requireNonNull(clock, "clock is null");
        requireNonNull(factories, "factories is null");
        config.check();
        KilnServer server = new KilnServer(config, clock, images, List.copyOf(factories), pipeline, ssh);
        if (server.notifier != null) {
            server.notifier.start();
        }
        server.scheduling.start();
        server.liveness.start();
        server.providers.forEach(ProviderLoop::start);
        if (server.pipeline != null) {
            server.pipeline.start();
        }
        server.http.start();
        log.info("Kiln server listening on {} with database {}", server.uri(), Database.redact(server.config.databaseUrl()));
        return server;
    }

    public int port() {
        return http.getAddress().getPort();
    }

    /** The SSH gateway's port, or -1 without one. */
    public int sshPort() {
        return ssh == null ? -1 : ssh.port();
    }

    public URI uri() {
        String host = config.bindAddress().equals("0.0.0.0") ? "127.0.0.1" : config.bindAddress();
        return URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port());
    }

    /** Scheduling passes run so far, jobs placed and decided, and time spent deciding. */
    public record Stats(long passes, long placements, long decisions, Duration schedulingTime) {}

    /** Bytes of unverified webhook bodies held now, beyond each one's free allowance (see {@link DeliveryMemory}). */
    public long unverifiedWebhookBytes() {
        return deliveryMemory.held();
    }

    public Stats stats() {
        SchedulingLoop.Stats s = scheduling.stats();
        return new Stats(s.passes(), s.placements(), s.decisions(), s.busy());
    }

    @Override
    public void close() {
        if (pipeline != null) {
            pipeline.close();
        }
        if (ssh != null) {
            ssh.close();
        }
        http.stop(0);
        scheduling.close();
        liveness.close();
        providers.forEach(ProviderLoop::close);
        if (notifier != null) {
            notifier.close();
        }
        requests.shutdownNow();
        try {
            requests.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        db.close();
        log.info("Kiln server on port {} stopped", port());
    }
}
