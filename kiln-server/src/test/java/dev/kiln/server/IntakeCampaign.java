package dev.kiln.server;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.kiln.github.Secret;
import dev.kiln.github.WebhookEvents;
import dev.kiln.github.WebhookVerifier;
import dev.kiln.server.github.GitHubProvider;
import dev.kiln.server.github.GitHubSettings;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The intake campaign: sends generated malformed webhook deliveries and API bodies ({@link MalformedBodies}) to a
 * running server on loopback and checks what it answered and what it stored. The server's only host is drained,
 * so nothing is placed, and its database is read before and after:
 * <ul>
 *   <li>no answer is 5xx and every request is answered;</li>
 *   <li>every delivery signed with Kiln's secret is stored (under its {@code X-GitHub-Delivery}, or its body's
 *       digest when that header is unusable) and processed (its processing did not fail); none signed otherwise
 *       is stored;</li>
 *   <li>VMs, runners, claims and logs are unchanged; rows of hosts, jobs and job events that existed are unchanged
 *       (the drained host's own row may change only if a sync was answered 200); new hosts and local jobs are
 *       exactly the ones answered 201; each new GitHub demand is named by a stored delivery's outcome.</li>
 * </ul>
 */
final class IntakeCampaign {
    /** What the campaign saw: answers by status (0: no answer), requests by kind, and every broken invariant. */
    record Result(Map<Integer, Integer> byStatus, Map<String, Integer> byKind, int storedDeliveries, List<String> problems) {
        String summary() {
            return "answers by status " + byStatus + "; requests " + byKind + "; verified deliveries stored "
                    + storedDeliveries + "; problems " + problems.size();
        }
    }

    static final long APP_ID = 12345;
    static final String SECRET = "campaign-webhook-secret";
    static final String ADMIN = "campaign-admin-token-0123456789";
    private static final List<String> UNCHANGED = List.of("vms", "github_runners", "launch_claims", "log_chunks");
    private static final int IN_FLIGHT = 8;

    private final URI server;
    private final String secret;
    private final String adminToken;
    private final String hostToken;
    private final String hostName;
    private final String jdbcUrl;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    IntakeCampaign(URI server, String secret, String adminToken, String hostName, String hostToken, String jdbcUrl) {
        this.server = server;
        this.secret = secret;
        this.adminToken = adminToken;
        this.hostName = hostName;
        this.hostToken = hostToken;
        this.jdbcUrl = jdbcUrl;
    }

    Result run(int count, long seed) throws Exception {
        Map<String, List<String>> before = snapshot();
        MalformedBodies bodies = new MalformedBodies(seed);
        WebhookVerifier right = new WebhookVerifier(Secret.of(secret));
        WebhookVerifier wrong = new WebhookVerifier(Secret.of("not-" + secret));
        Map<Integer, Integer> byStatus = new ConcurrentHashMap<>();
        Map<String, Integer> byKind = new ConcurrentHashMap<>();
        Map<String, Integer> created = new ConcurrentHashMap<>();
        Set<String> mustBeStored = ConcurrentHashMap.newKeySet();
        Set<String> mustNotBeStored = ConcurrentHashMap.newKeySet();
        List<String> problems = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicInteger syncs = new AtomicInteger();
        Semaphore slots = new Semaphore(IN_FLIGHT);
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < count; i++) {
                MalformedBodies.Request request = bodies.next();
                HttpRequest.Builder builder = HttpRequest.newBuilder(server.resolve(request.path())).timeout(Duration.ofSeconds(30))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(request.body()));
                for (int h = 0; h < request.headers().size(); h += 2) {
                    builder.header(request.headers().get(h), request.headers().get(h + 1));
                }
                String kind;
                if (request.webhook()) {
                    kind = "webhook signed " + request.signature().name().toLowerCase(java.util.Locale.ROOT);
                    switch (request.signature()) {
                        case RIGHT -> builder.header("X-Hub-Signature-256", right.sign(request.body()));
                        case WRONG -> builder.header("X-Hub-Signature-256", wrong.sign(request.body()));
                        case NONE -> { }
                    }
                    String header = header(request, "X-GitHub-Delivery");
                    if (request.signature() == MalformedBodies.Signature.RIGHT) {
                        mustBeStored.add(WebhookEvents.isDeliveryId(header) ? header : WebhookEvents.derivedId(request.body()));
                    } else if (WebhookEvents.isDeliveryId(header)) {
                        mustNotBeStored.add(header);
                    }
                } else {
                    kind = "api " + request.path();
                    if (request.path().startsWith("/api/v1/agent/sync") || request.path().startsWith("/api/v1/agent/logs")) {
                        builder.header("Authorization", "Bearer " + hostToken);
                    } else if (!request.path().startsWith("/api/v1/agent/")) {
                        builder.header("Authorization", "Bearer " + adminToken);
                    }
                }
                byKind.merge(kind, 1, Integer::sum);
                slots.acquire();
                pool.submit(() -> {
                    try {
                        int status = http.send(builder.build(), HttpResponse.BodyHandlers.ofString()).statusCode();
                        byStatus.merge(status, 1, Integer::sum);
                        if (status >= 500) {
                            problems.add(kind + " answered " + status + " for " + show(request.body()));
                        }
                        if (status / 100 == 2 && !request.webhook()) {
                            created.merge(request.path(), 1, Integer::sum);
                            if (request.path().equals("/api/v1/agent/sync")) {
                                syncs.incrementAndGet();
                            }
                        }
                    } catch (Exception e) {
                        byStatus.merge(0, 1, Integer::sum);
                        problems.add(kind + " got no answer (" + e + ") for " + show(request.body()));
                    } finally {
                        slots.release();
                    }
                    return null;
                });
            }
        }
        Map<String, List<String>> after = snapshot();
        Set<String> stored = new HashSet<>(ids(after.get("github_deliveries")));
        for (String id : mustBeStored) {
            if (!stored.contains(id)) {
                problems.add("verified delivery " + id + " was not stored");
            }
        }
        for (String id : mustNotBeStored) {
            if (stored.contains(id)) {
                problems.add("delivery " + id + " without Kiln's signature was stored");
            }
        }
        try (Connection c = DriverManager.getConnection(jdbcUrl); Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT id FROM github_deliveries WHERE processed_at IS NULL")) {
            while (r.next()) {
                problems.add("verified delivery " + r.getString(1) + " is stored but its processing failed");
            }
        }
        for (String table : UNCHANGED) {
            if (!before.get(table).equals(after.get(table))) {
                problems.add("table " + table + " changed: " + before.get(table).size() + " rows before, " + after.get(table).size() + " after");
            }
        }
        checkKept("hosts", before, after, syncs.get() > 0 ? hostName : null, problems);
        checkKept("jobs", before, after, null, problems);
        checkKept("job_events", before, after, null, problems);
        int newHosts = after.get("hosts").size() - before.get("hosts").size();
        if (newHosts != created.getOrDefault("/api/v1/hosts", 0)) {
            problems.add(newHosts + " new hosts, but " + created.getOrDefault("/api/v1/hosts", 0) + " answered 201");
        }
        Set<String> oldJobs = new HashSet<>(ids(before.get("jobs")));
        String outcomes = String.join("\n", after.get("github_deliveries"));
        int newLocal = 0;
        for (String row : after.get("jobs")) {
            String id = row.substring(0, row.indexOf('|'));
            if (oldJobs.contains(id)) {
                continue;
            }
            if (row.contains("|github|")) {
                if (!outcomes.contains(id)) {
                    problems.add("GitHub demand " + id + " is named by no stored delivery");
                }
            } else {
                newLocal++;
            }
        }
        if (newLocal != created.getOrDefault("/api/v1/jobs", 0)) {
            problems.add(newLocal + " new local jobs, but " + created.getOrDefault("/api/v1/jobs", 0) + " answered 201");
        }
        return new Result(new TreeMap<>(byStatus), new TreeMap<>(byKind), mustBeStored.size(), List.copyOf(problems));
    }

    private static String header(MalformedBodies.Request request, String name) {
        for (int h = 0; h < request.headers().size(); h += 2) {
            if (request.headers().get(h).equalsIgnoreCase(name)) {
                return request.headers().get(h + 1);
            }
        }
        return null;
    }

    /** Every row that existed is there, unchanged (but the one whose first column is {@code except}). */
    private static void checkKept(String table, Map<String, List<String>> before, Map<String, List<String>> after, String except,
            List<String> problems) {
        Set<String> now = new HashSet<>(after.get(table));
        for (String row : before.get(table)) {
            if (!now.contains(row) && (except == null || !row.startsWith(except + "|"))) {
                problems.add("a row of " + table + " changed or went: " + row);
            }
        }
    }

    private static List<String> ids(List<String> rows) {
        return rows.stream().map(r -> r.substring(0, r.indexOf('|'))).toList();
    }

    /** Every row of the tables Kiln keeps, as text, sorted. */
    Map<String, List<String>> snapshot() throws SQLException {
        Map<String, List<String>> tables = new TreeMap<>();
        try (Connection c = DriverManager.getConnection(jdbcUrl); Statement s = c.createStatement()) {
            for (String table : List.of("hosts", "jobs", "job_events", "vms", "log_chunks", "github_jobs", "github_runners",
                    "launch_claims", "github_demands", "github_deliveries")) {
                List<String> rows = new ArrayList<>();
                try (ResultSet r = s.executeQuery("SELECT * FROM " + table)) {
                    ResultSetMetaData meta = r.getMetaData();
                    while (r.next()) {
                        StringBuilder row = new StringBuilder();
                        for (int col = 1; col <= meta.getColumnCount(); col++) {
                            if (col > 1) {
                                row.append('|');
                            }
                            row.append(r.getString(col));
                        }
                        rows.add(row.toString());
                    }
                }
                rows.sort(null);
                tables.put(table, rows);
            }
        }
        return tables;
    }

    private static String show(byte[] body) {
        String text = new String(body, UTF_8);
        return text.length() <= 300 ? text : text.substring(0, 300) + "…";
    }

    /**
     * A server (port 0, loopback) on the database with its App on the fake GitHub, one drained host and one
     * queued job; then the campaign against it.
     */
    static Result againstServer(String url, int count, long seed) throws Exception {
        java.security.KeyPair keys = dev.kiln.testkit.github.AppKeys.generate();
        HttpServerSettings.first();
        dev.kiln.testkit.TestingClock clock = new dev.kiln.testkit.TestingClock();
        try (dev.kiln.testkit.github.FakeGitHub fake = dev.kiln.testkit.github.FakeGitHub.start(APP_ID, keys.getPublic(), clock)) {
            fake.installOnOrganization("acme", dev.kiln.testkit.github.FakeGitHub.KILN_PERMISSIONS);
            fake.addRepository("acme", "widgets");
            dev.kiln.github.GitHubConfig config = dev.kiln.github.GitHubConfig.of(APP_ID,
                    (java.security.interfaces.RSAPrivateKey) keys.getPrivate(), Secret.of(SECRET), fake.url(), fake.url());
            dev.kiln.github.GitHubApp app = new dev.kiln.github.GitHubApp(config, HttpClient.newHttpClient(), clock, clock::advance);
            ServerConfig serverConfig = ServerConfig.defaults(url, ADMIN).withListen("127.0.0.1", 0);
            try (KilnServer server = KilnServer.start(serverConfig, clock, null, GitHubProvider.factories(GitHubSettings.defaults(app)))) {
                dev.kiln.api.KilnClient client = new dev.kiln.api.KilnClient(server.uri(), ADMIN);
                String hostToken = dev.kiln.api.AgentClient.enrol(server.uri(), client.addHost("campaign-host").enrolmentToken())
                        .hostToken();
                client.drainHost("campaign-host");
                client.submit(dev.kiln.api.JobRequest.command(List.of("true"), 1, 512, 1));
                long started = System.nanoTime();
                Result result = new IntakeCampaign(server.uri(), SECRET, ADMIN, "campaign-host", hostToken, url).run(count, seed);
                System.err.println("intake campaign (" + count + " requests, " + url.replaceFirst("[?].*", "") + ", "
                        + Duration.ofNanos(System.nanoTime() - started).toMillis() + " ms): " + result.summary());
                result.problems().stream().limit(20).forEach(p -> System.err.println("  problem: " + p));
                return result;
            }
        }
    }

    /** {@code bench/intake/run.sh}: the campaign of {@code args[0]} requests on SQLite and on PostgreSQL, as Markdown. */
    public static void main(String[] args) throws Exception {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("kiln-intake-");
        List<String> lines = new ArrayList<>();
        boolean failed = false;
        try (dev.kiln.testkit.TestingPostgres postgres = dev.kiln.testkit.TestingPostgres.start()) {
            for (String[] store : List.of(new String[] {"SQLite", "jdbc:sqlite:" + dir.resolve("kiln.db")},
                    new String[] {"PostgreSQL", postgres.newDatabase()})) {
                long started = System.nanoTime();
                Result result = againstServer(store[1], count, 20261205L);
                long millis = Duration.ofNanos(System.nanoTime() - started).toMillis();
                failed |= !result.problems().isEmpty();
                lines.add("| " + store[0] + " | " + count + " | " + result.byStatus() + " | " + result.byKind() + " | "
                        + result.storedDeliveries() + " | " + result.problems().size() + " | " + millis + " |");
                result.problems().stream().limit(20).forEach(p -> lines.add("  - problem: " + p));
            }
        }
        System.out.println("| store | requests | answers by status | requests by kind | verified deliveries stored | problems | ms |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- |");
        lines.forEach(System.out::println);
        if (failed) {
            System.exit(1);
        }
    }
}
