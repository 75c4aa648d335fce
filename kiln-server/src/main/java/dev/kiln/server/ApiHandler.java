package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.type.TypeReference;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.kiln.api.AgentReport;
import dev.kiln.api.ApiError;
import dev.kiln.api.EnrolRequest;
import dev.kiln.api.JobRequest;
import dev.kiln.api.JobSsh;
import dev.kiln.api.JobView;
import dev.kiln.api.SshGatewayInfo;
import dev.kiln.api.KilnClient;
import dev.kiln.api.LogChunk;
import dev.kiln.api.LogPage;
import dev.kiln.api.SyncAnswer;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code /api/v1}: routes each request, checks its token, answers JSON or {@code {"code", "message"}}. */
final class ApiHandler implements HttpHandler {
    private static final Logger log = LoggerFactory.getLogger(ApiHandler.class);
    static final int MAX_BODY = 1 << 20;
    /** An enrolment is read before anyone is authenticated: it holds one token, so a few KiB bound it. */
    static final int MAX_ENROL_BODY = 4 << 10;
    static final int MAX_LOG_BODY = 8 << 20;
    private static final Pattern JOB = Pattern.compile("/api/v1/jobs/([^/]{1,64})(/cancel|/logs|/ssh)?");
    private static final Pattern HOST = Pattern.compile("/api/v1/hosts/([^/]{1,64})(/drain|/resume)?");
    private static final Duration MAX_WAIT = Duration.ofSeconds(60);

    private final ServerConfig config;
    private final Stores stores;
    private final Signals signals;

    /** The stores the API reads and writes. */
    record Stores(JobStore jobs, HostStore hosts, SyncStore sync, VmStore vms, LogStore logs, JobRequests requests) {}

    /** The SSH gateway, for agents to reach it and `kiln ssh`/`kiln job` to see a job's shell; null without one. */
    record Ssh(SshGatewayInfo gateway, SshStore store) {}

    private final Ssh ssh;

    ApiHandler(ServerConfig config, Stores stores, Signals signals) {
        this(config, stores, signals, null);
    }

    ApiHandler(ServerConfig config, Stores stores, Signals signals, Ssh ssh) {
        this.config = requireNonNull(config, "config is null");
        this.stores = requireNonNull(stores, "stores is null");
        this.signals = requireNonNull(signals, "signals is null");
        this.ssh = ssh;
    }

    @Override
    public void handle(HttpExchange http) throws IOException {
        Exchange exchange = new Exchange(http);
        try {
            Answer answer = route(exchange);
            exchange.send(answer.status(), answer.body());
        } catch (Exchange.TooLarge e) {
            exchange.send(413, new ApiError(e.code().name(), e.getMessage()));
        } catch (Exchange.WrongMethod e) {
            exchange.sendWrongMethod(e);
        } catch (KilnException e) {
            if (e.code().kind() == ErrorCode.Kind.INTERNAL || e.code() == ErrorCode.UNAVAILABLE) {
                log.warn("{} {} failed: {}", exchange.method(), exchange.path(), e.getMessage());
            }
            exchange.send(status(e.code()), new ApiError(e.code().name(), e.getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            exchange.send(503, new ApiError(ErrorCode.UNAVAILABLE.name(), "the server is stopping"));
        } catch (RuntimeException e) {
            exchange.sendUnexpected(log, e);
        } finally {
            exchange.close();
        }
    }

    private record Answer(int status, Object body) {
        static Answer ok(Object body) {
            return new Answer(200, body);
        }
    }

    private Answer route(Exchange x) throws InterruptedException {
        String path = x.path();
        String method = x.method();
        List<String> allowed = allowedMethods(path);
        if (allowed != null && !allowed.contains(method)) {
            throw new Exchange.WrongMethod(method, path, allowed);
        }
        if (path.equals("/api/v1/health") && method.equals("GET")) {
            return Answer.ok(Map.of("status", "ok"));
        }
        if (path.startsWith("/api/v1/agent/")) {
            return agent(x, path, method);
        }
        admin(x);
        if (path.equals("/api/v1/jobs")) {
            if (method.equals("POST")) {
                NewJob job = stores.requests().validate(x.body(new TypeReference<JobRequest>() {}, MAX_BODY));
                return new Answer(201, stores.jobs().submit(job));
            }
            if (method.equals("GET")) {
                JobState state = x.query("state") == null ? null : jobState(x.query("state"));
                return Answer.ok(stores.jobs().list(state, (int) x.queryLong("limit", 100, 1, 10_000)));
            }
        }
        Matcher job = JOB.matcher(path);
        if (job.matches()) {
            String id = job.group(1);
            String action = job.group(2);
            if (action == null && method.equals("GET")) {
                return Answer.ok(awaitJob(id, x));
            }
            if ("/cancel".equals(action) && method.equals("POST")) {
                return Answer.ok(stores.jobs().cancel(id));
            }
            if ("/logs".equals(action) && method.equals("GET")) {
                return Answer.ok(awaitLogs(id, x));
            }
            if ("/ssh".equals(action) && method.equals("GET")) {
                stores.jobs().get(id); // 404 for an unknown job
                return Answer.ok(ssh == null ? new JobSsh(id, null, 0, null, List.of())
                        : new JobSsh(id, ssh.store().hostKeyOfJob(id).orElse(null), ssh.gateway().port(),
                                ssh.gateway().hostKey(), ssh.store().sessions(id)));
            }
        }
        if (path.equals("/api/v1/hosts")) {
            if (method.equals("GET")) {
                return Answer.ok(stores.hosts().list());
            }
            if (method.equals("POST")) {
                KilnClient.AddHost add = x.body(new TypeReference<KilnClient.AddHost>() {}, MAX_BODY);
                return new Answer(201, stores.hosts().add(add == null ? null : add.name()));
            }
        }
        Matcher host = HOST.matcher(path);
        if (host.matches()) {
            String name = host.group(1);
            String action = host.group(2);
            if (action == null && method.equals("GET")) {
                return Answer.ok(stores.hosts().get(name));
            }
            if (action == null && method.equals("DELETE")) {
                stores.hosts().remove(name);
                return new Answer(204, null);
            }
            if (action != null && method.equals("POST")) {
                return Answer.ok(stores.hosts().drain(name, action.equals("/drain")));
            }
        }
        if (path.equals("/api/v1/vms") && method.equals("GET")) {
            return Answer.ok(stores.vms().list("true".equals(x.query("all")), (int) x.queryLong("limit", 1000, 1, 10_000)));
        }
        throw new KilnException(ErrorCode.NOT_FOUND, "no API " + method + " " + path + " (the API is under /api/v1)");
    }

    /**
     * The methods a known path answers, or null for a path the API does not have. A known path asked with
     * another method answers 405 with {@code Allow} (before the token is checked: the routes are no secret).
     */
    static List<String> allowedMethods(String path) {
        switch (path) {
            case "/api/v1/health", "/api/v1/vms" -> {
                return List.of("GET");
            }
            case "/api/v1/jobs", "/api/v1/hosts" -> {
                return List.of("GET", "POST");
            }
            case "/api/v1/agent/enrol", "/api/v1/agent/sync", "/api/v1/agent/logs" -> {
                return List.of("POST");
            }
            case "/api/v1/agent/ssh" -> {
                return List.of("GET");
            }
            default -> {
                // Below.
            }
        }
        Matcher job = JOB.matcher(path);
        if (job.matches()) {
            return job.group(2) == null || job.group(2).equals("/logs") || job.group(2).equals("/ssh") ? List.of("GET")
                    : List.of("POST");
        }
        Matcher host = HOST.matcher(path);
        if (host.matches()) {
            return host.group(2) == null ? List.of("GET", "DELETE") : List.of("POST");
        }
        return null;
    }

    private Answer agent(Exchange x, String path, String method) throws InterruptedException {
        switch (path) {
            case "/api/v1/agent/enrol" -> {
                EnrolRequest request = x.body(new TypeReference<EnrolRequest>() {}, MAX_ENROL_BODY);
                return Answer.ok(stores.hosts().enrol(request == null ? null : request.enrolmentToken()));
            }
            case "/api/v1/agent/sync" -> {
                String host = host(x);
                AgentReport report = x.body(new TypeReference<AgentReport>() {}, MAX_BODY);
                Reports.check(report);
                Duration hold = Duration.ofMillis(x.queryLong("holdMs", 0, 0, MAX_WAIT.toMillis()));
                return Answer.ok(sync(host, report, hold.compareTo(config.syncHold()) > 0 ? config.syncHold() : hold));
            }
            case "/api/v1/agent/ssh" -> {
                host(x);
                if (ssh == null) {
                    throw new KilnException(ErrorCode.NOT_FOUND, "this server runs no SSH gateway (`kiln server --ssh-listen`)");
                }
                return Answer.ok(ssh.gateway());
            }
            case "/api/v1/agent/logs" -> {
                String host = host(x);
                List<LogChunk> chunks = x.body(new TypeReference<List<LogChunk>>() {}, MAX_LOG_BODY);
                Reports.check(chunks);
                stores.logs().append(host, chunks);
                return new Answer(204, null);
            }
            default -> throw new KilnException(ErrorCode.NOT_FOUND, "no API " + method + " " + path);
        }
    }

    /** Applies the report, then holds the answer until it differs from what the agent has or the hold ends. */
    private SyncAnswer sync(String host, AgentReport report, Duration hold) throws InterruptedException {
        stores.sync().apply(host, report);
        long deadline = System.nanoTime() + hold.toNanos();
        String topic = Signals.host(host);
        while (true) {
            long seen = signals.version(topic);
            SyncAnswer answer = stores.sync().desired(host);
            long left = deadline - System.nanoTime();
            if (!answer.desiredVersion().equals(report.desiredVersion()) || left <= 0) {
                return answer;
            }
            signals.await(topic, seen, Duration.ofNanos(left));
        }
    }

    private JobView awaitJob(String id, Exchange x) throws InterruptedException {
        String from = x.query("changedFrom");
        if (from == null) {
            return stores.jobs().get(id);
        }
        JobState state = jobState(from);
        long deadline = System.nanoTime() + Duration.ofMillis(x.queryLong("waitMs", 0, 0, MAX_WAIT.toMillis())).toNanos();
        while (true) {
            long seen = signals.version(Signals.job(id));
            JobView job = stores.jobs().get(id);
            long left = deadline - System.nanoTime();
            if (job.state() != state || left <= 0) {
                return job;
            }
            signals.await(Signals.job(id), seen, Duration.ofNanos(left));
        }
    }

    private LogPage awaitLogs(String id, Exchange x) throws InterruptedException {
        long after = x.queryLong("after", 0, 0, Long.MAX_VALUE);
        long deadline = System.nanoTime() + Duration.ofMillis(x.queryLong("waitMs", 0, 0, MAX_WAIT.toMillis())).toNanos();
        while (true) {
            long seen = signals.version(Signals.job(id));
            LogPage page = stores.logs().read(id, after);
            long left = deadline - System.nanoTime();
            if (!page.entries().isEmpty() || page.finished() || left <= 0) {
                return page;
            }
            signals.await(Signals.job(id), seen, Duration.ofNanos(left));
        }
    }

    private void admin(Exchange x) {
        String token = x.bearer();
        if (token == null) {
            throw new KilnException(ErrorCode.UNAUTHENTICATED, "this API needs the admin token: send"
                    + " `Authorization: Bearer TOKEN` (the CLI takes --token, $KILN_TOKEN or its config file)");
        }
        if (!Tokens.sameSecret(token, config.adminToken())) {
            throw new KilnException(ErrorCode.UNAUTHENTICATED, "the admin token is wrong");
        }
    }

    private String host(Exchange x) {
        String token = x.bearer();
        if (token == null) {
            throw new KilnException(ErrorCode.UNAUTHENTICATED, "an agent call needs its host token:"
                    + " `Authorization: Bearer TOKEN`");
        }
        return stores.hosts().authenticate(token);
    }

    private static JobState jobState(String name) {
        try {
            return JobState.valueOf(name.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "'" + (name.length() > 20 ? name.substring(0, 20) : name)
                    + "' is not a job state; states are " + java.util.Arrays.toString(JobState.values()));
        }
    }

    static int status(ErrorCode code) {
        return Exchange.status(code);
    }
}
