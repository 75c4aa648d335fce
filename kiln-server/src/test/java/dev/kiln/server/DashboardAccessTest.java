package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.JobRequest;
import dev.kiln.api.KilnClient;
import dev.kiln.api.ViewerToken;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import dev.kiln.testkit.TestingClock;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dashboard's access rules over real HTTP: a sign-in with the admin or a viewer token gives a session cookie
 * (HttpOnly, SameSite=Strict, Secure behind TLS), no token is ever in a URL, actions need the admin role, the session's
 * CSRF token and this server's origin, and sessions end (sign-out, expiry, revocation). Also the jobs page's filters and
 * server-side pages.
 */
@Timeout(120)
class DashboardAccessTest {
    static final String ADMIN = ServerFleetTest.ADMIN;
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    /** The same server, clock and client as ServerFleetTest's, started and stopped around each test here. */
    final ServerFleetTest fleet = new ServerFleetTest();
    final HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
    TestingClock clock;
    KilnServer server;
    KilnClient client;

    @BeforeEach
    void start() {
        fleet.dir = dir;
        fleet.start();
        clock = fleet.clock;
        server = fleet.server;
        client = fleet.client;
    }

    @AfterEach
    void stop() {
        fleet.stop();
        http.close();
    }

    /** A signed-in browser: its cookie and CSRF token. */
    record Browser(String cookie, String csrf, String role) {}

    HttpResponse<String> signIn(String token, String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(server.uri().resolve("/sign-in"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("token=" + URLEncoder.encode(token, StandardCharsets.UTF_8)));
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    Browser browser(String token) throws Exception {
        HttpResponse<String> signedIn = signIn(token);
        assertThat(signedIn.statusCode()).isEqualTo(303);
        String cookie = signedIn.headers().firstValue("Set-Cookie").orElseThrow().split(";")[0];
        JsonNode session = JSON.readTree(get(cookie, "/dashboard/api/session").body());
        return new Browser(cookie, session.get("csrf").asText(), session.get("role").asText());
    }

    HttpResponse<String> get(String cookie, String path) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(server.uri().resolve(path)).GET();
        if (cookie != null) {
            request.header("Cookie", cookie);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(Browser browser, String path, String csrf, String origin) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(server.uri().resolve(path))
                .header("Cookie", browser.cookie()).POST(HttpRequest.BodyPublishers.noBody());
        if (csrf != null) {
            request.header("X-Kiln-Csrf", csrf);
        }
        if (origin != null) {
            request.header("Origin", origin);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    String origin() {
        return "http://" + server.uri().getAuthority();
    }

    @Test
    void signInGivesAStrictHttpOnlyCookieSecureOnlyBehindTls() throws Exception {
        assertThat(get(null, "/fleet").statusCode()).isEqualTo(303);
        assertThat(get(null, "/fleet").headers().firstValue("Location")).hasValue("/sign-in");
        assertThat(get(null, "/dashboard/api/fleet").statusCode()).isEqualTo(401);
        HttpResponse<String> page = get(null, "/sign-in");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Security-Policy").orElseThrow()).contains("script-src 'self'");

        HttpResponse<String> wrong = signIn("not-a-token");
        assertThat(wrong.statusCode()).isEqualTo(303);
        assertThat(wrong.headers().firstValue("Location")).hasValue("/sign-in?failed");
        assertThat(wrong.headers().firstValue("Set-Cookie")).isEmpty();

        HttpResponse<String> admin = signIn(ADMIN);
        assertThat(admin.headers().firstValue("Location")).hasValue("/fleet");
        String cookie = admin.headers().firstValue("Set-Cookie").orElseThrow();
        assertThat(cookie).startsWith("kiln_session=kiln-session-").contains("; HttpOnly", "; SameSite=Strict", "; Path=/")
                .doesNotContain("Secure").doesNotContain(ADMIN);
        assertThat(signIn(ADMIN, "X-Forwarded-Proto", "https").headers().firstValue("Set-Cookie").orElseThrow())
                .contains("; Secure");
        // A sign-in posted by another site's page is refused.
        assertThat(signIn(ADMIN, "Origin", "https://evil.example").statusCode()).isEqualTo(403);

        String session = cookie.split(";")[0];
        assertThat(get(session, "/fleet").statusCode()).isEqualTo(200);
        assertThat(get(session, "/fleet").body()).contains("/assets/app.js").doesNotContain(ADMIN);
        assertThat(JSON.readTree(get(session, "/dashboard/api/session").body()).get("role").asText()).isEqualTo("ADMIN");
    }

    @Test
    void aViewerLooksButIsRefusedActionsAndTheAdminActsOnlyWithTheCsrfTokenFromThisOrigin() throws Exception {
        SimulatedHost host = SimulatedHost.enrol(server.uri(), client, "h1", 4, 8);
        String job = client.submit(JobRequest.command(List.of("sleep", "1000"), 1, 1024, 10)).id();
        ViewerToken.Created viewerToken = client.createViewerToken("ops-screen");
        assertThat(viewerToken.token()).startsWith("kiln-viewer-");
        assertThat(client.viewerTokens()).extracting(ViewerToken::name).containsExactly("ops-screen");

        Browser viewer = browser(viewerToken.token());
        assertThat(viewer.role()).isEqualTo("VIEWER");
        assertThat(get(viewer.cookie(), "/dashboard/api/jobs/" + job).statusCode()).isEqualTo(200);
        HttpResponse<String> refused = post(viewer, "/dashboard/api/jobs/" + job + "/cancel", viewer.csrf(), origin());
        assertThat(refused.statusCode()).isEqualTo(403);
        assertThat(refused.body()).contains("viewer");
        assertThat(post(viewer, "/dashboard/api/hosts/h1/drain", viewer.csrf(), origin()).statusCode()).isEqualTo(403);

        Browser admin = browser(ADMIN);
        assertThat(post(admin, "/dashboard/api/jobs/" + job + "/cancel", null, origin()).statusCode()).isEqualTo(403);
        assertThat(post(admin, "/dashboard/api/jobs/" + job + "/cancel", "forged", origin()).statusCode()).isEqualTo(403);
        assertThat(post(admin, "/dashboard/api/jobs/" + job + "/cancel", admin.csrf(), "https://evil.example").statusCode())
                .isEqualTo(403);
        // Another session's CSRF token is no good either.
        assertThat(post(admin, "/dashboard/api/jobs/" + job + "/cancel", viewer.csrf(), origin()).statusCode()).isEqualTo(403);
        assertThat(client.job(job).state()).isNotEqualTo(JobState.CANCELLED);

        assertThat(post(admin, "/dashboard/api/hosts/h1/drain", admin.csrf(), origin()).statusCode()).isEqualTo(200);
        assertThat(client.hosts().getFirst().state()).isEqualTo("DRAINING");
        assertThat(post(admin, "/dashboard/api/hosts/h1/resume", admin.csrf(), origin()).statusCode()).isEqualTo(200);
        HttpResponse<String> cancelled = post(admin, "/dashboard/api/jobs/" + job + "/cancel", admin.csrf(), origin());
        assertThat(cancelled.statusCode()).isEqualTo(200);
        assertThat(client.job(job).state()).isEqualTo(JobState.CANCELLED);
        host.close();
    }

    @Test
    void sessionsEndAtSignOutAtExpiryAndWithTheirViewerToken() throws Exception {
        Browser admin = browser(ADMIN);
        assertThat(post(admin, "/sign-out", null, origin()).statusCode()).isEqualTo(403);
        HttpResponse<String> out = post(admin, "/sign-out", admin.csrf(), origin());
        assertThat(out.statusCode()).isEqualTo(200);
        assertThat(out.headers().firstValue("Set-Cookie").orElseThrow()).contains("Max-Age=0");
        assertThat(get(admin.cookie(), "/dashboard/api/fleet").statusCode()).isEqualTo(401);

        Browser later = browser(ADMIN);
        clock.advance(Duration.ofHours(11));
        assertThat(get(later.cookie(), "/dashboard/api/fleet").statusCode()).isEqualTo(200);
        clock.advance(Duration.ofHours(1));
        assertThat(get(later.cookie(), "/dashboard/api/fleet").statusCode()).isEqualTo(401);

        Browser viewer = browser(client.createViewerToken("wall").token());
        assertThat(get(viewer.cookie(), "/dashboard/api/fleet").statusCode()).isEqualTo(200);
        client.revokeViewerToken("wall");
        assertThat(get(viewer.cookie(), "/dashboard/api/fleet").statusCode()).isEqualTo(401);
        assertThat(client.viewerTokens()).isEmpty();
        assertThatThrownBy(() -> client.revokeViewerToken("wall")).isInstanceOf(KilnException.class)
                .hasMessageContaining("no viewer token wall");
        assertThatThrownBy(() -> client.createViewerToken("Bad Name")).isInstanceOf(KilnException.class)
                .hasMessageContaining("must be 1 to 64");
        // Viewer tokens are the admin's business.
        HttpResponse<String> anonymous = http.send(HttpRequest.newBuilder(server.uri().resolve("/api/v1/viewer-tokens"))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(anonymous.statusCode()).isEqualTo(401);
    }

    @Test
    void theJobsPageFiltersAndPagesOnTheServer() throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 120; i++) {
            List<String> labels = i == 7 || i == 8 ? List.of("kiln-arm64-2cpu-4gb") : List.of("kiln-1cpu-1gb");
            ids.add(client.submit(new JobRequest(List.of("echo", "job-" + i), java.util.Map.of(), null, labels, null, null,
                    null, null, 10L, "acme", i % 3 == 0 ? "acme/web" : "acme/api", null)).id());
        }
        Browser viewer = browser(client.createViewerToken("reader").token());
        Set<String> seen = new HashSet<>();
        String before = null;
        int pages = 0;
        do {
            JsonNode page = JSON.readTree(get(viewer.cookie(), "/dashboard/api/jobs" + (before == null ? "" : "?before=" + before)).body());
            assertThat(page.get("total").asLong()).isEqualTo(120);
            assertThat(page.get("jobs").size()).isLessThanOrEqualTo(50);
            page.get("jobs").forEach(j -> assertThat(seen.add(j.get("id").asText())).isTrue());
            before = page.hasNonNull("next") ? page.get("next").asText() : null;
            pages++;
        } while (before != null);
        assertThat(pages).isEqualTo(3);
        assertThat(seen).containsExactlyInAnyOrderElementsOf(ids);

        JsonNode web = JSON.readTree(get(viewer.cookie(), "/dashboard/api/jobs?repo=acme%2Fweb").body());
        assertThat(web.get("total").asLong()).isEqualTo(40);
        web.get("jobs").forEach(j -> assertThat(j.get("repo").asText()).isEqualTo("acme/web"));
        JsonNode arm = JSON.readTree(get(viewer.cookie(), "/dashboard/api/jobs?label=kiln-arm64-2cpu-4gb").body());
        assertThat(arm.get("jobs").findValuesAsText("id")).containsExactlyInAnyOrder(ids.get(7), ids.get(8));
        assertThat(JSON.readTree(get(viewer.cookie(), "/dashboard/api/jobs?label=kiln-arm64").body()).get("total").asLong())
                .as("a label matches whole").isZero();
        assertThat(JSON.readTree(get(viewer.cookie(), "/dashboard/api/jobs?state=succeeded").body()).get("total").asLong()).isZero();
        assertThat(get(viewer.cookie(), "/dashboard/api/jobs?state=bogus").statusCode()).isEqualTo(400);
        assertThat(get(viewer.cookie(), "/dashboard/api/jobs?state=queued&host=h9").statusCode()).isEqualTo(200);
        assertThat(URI.create(server.uri() + "/jobs").getPath()).isEqualTo("/jobs");
    }
}
