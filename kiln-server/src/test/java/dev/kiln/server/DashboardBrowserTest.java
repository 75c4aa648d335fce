package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobRequest;
import dev.kiln.api.KilnClient;
import dev.kiln.core.JobState;
import dev.kiln.testkit.TestingClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.NoAlertPresentException;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The dashboard in a real headless Chromium (Debian's {@code chromium} and {@code chromium-driver}, driven by Selenium)
 * against a real server with simulated hosts: sign in, a host and a running job appear without a reload, the queue says
 * why a job waits, a job's timeline and live log, the admin cancels a job, a viewer is refused, a job named
 * {@code <script>…} shows as text; and a screenshot of each page under {@code docs/screenshots/}. Run under
 * {@code flock /tmp/kiln-vm.lock} (a browser is heavy on two cores).
 */
@Tag("browser")
@Timeout(300)
class DashboardBrowserTest {
    static final String ADMIN = ServerFleetTest.ADMIN;
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path DRIVER = Path.of("/usr/bin/chromedriver");
    static final String SCRIPT_NAME = "<script>alert(1)</script>";
    static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock();
    KilnServer server;
    KilnClient client;
    ChromeDriver browser;

    @BeforeEach
    void start() {
        assertThat(Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER))
                .as("the dashboard's browser tests need Debian's chromium and chromium-driver (%s, %s): bin/setup installs"
                        + " them (apt-get install chromium chromium-driver)", CHROMIUM, DRIVER).isTrue();
        server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN)
                .withListen("127.0.0.1", 0).withLiveness(Duration.ofSeconds(60), Duration.ofMillis(50)), clock);
        client = new KilnClient(server.uri(), ADMIN);
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,900", "--user-data-dir=" + dir.resolve("chromium"));
        browser = new ChromeDriver(new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile())
                .usingAnyFreePort().build(), options);
    }

    @AfterEach
    void stop() {
        if (browser != null) {
            browser.quit();
        }
        if (server != null) {
            server.close();
        }
    }

    void open(String path) {
        browser.get(server.uri().resolve(path).toString());
    }

    /** What the browser shows, for a failure's message. */
    String shown() {
        return browser.getCurrentUrl() + "\n" + browser.getPageSource();
    }

    WebElement waitFor(String css) {
        try {
            return await().atMost(WAIT).ignoreExceptions().until(() -> browser.findElement(By.cssSelector(css)), e -> e != null);
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("no " + css + " within " + WAIT + " on " + shown(), e);
        }
    }

    void waitForText(String css, String text) {
        try {
            await().atMost(WAIT).ignoreExceptions().until(() -> browser.findElement(By.cssSelector(css)).getText().contains(text));
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("no '" + text + "' in " + css + " within " + WAIT + " on " + shown(), e);
        }
    }

    void signIn(String token) {
        open("/sign-in");
        browser.findElement(By.id("token")).sendKeys(token);
        browser.findElement(By.id("submit")).click();
        await().atMost(WAIT).until(() -> browser.getCurrentUrl().endsWith("/fleet"));
    }

    void screenshot(String name) throws Exception {
        // The module's directory is the working directory of its tests; the screenshots live in the repository's docs.
        Path target = Path.of(System.getProperty("user.dir")).resolveSibling("docs").resolve("screenshots").resolve(name + ".png");
        Files.createDirectories(target.getParent());
        Files.write(target, browser.getScreenshotAs(OutputType.BYTES));
    }

    @Test
    void anAdminWatchesTheFleetAndAJobLiveAndCancelsIt_aViewerIsRefused() throws Exception {
        open("/fleet");
        assertThat(browser.getCurrentUrl()).as("a page without a session sends the browser to sign in").endsWith("/sign-in");
        browser.findElement(By.id("token")).sendKeys("not-a-token");
        browser.findElement(By.id("submit")).click();
        await().atMost(WAIT).ignoreExceptions().alias("the sign-in page says the token failed").until(
                () -> browser.findElement(By.id("failed")).isDisplayed());
        assertThat(browser.getCurrentUrl()).endsWith("/sign-in?failed").doesNotContain("not-a-token");
        screenshot("sign-in");

        signIn(ADMIN);
        assertThat(browser.getCurrentUrl()).doesNotContain(ADMIN);
        waitForText("#content h1", "0 hosts");
        // A host enrols while the page is open: it appears without a reload.
        SimulatedHost h1 = SimulatedHost.enrol(server.uri(), client, "h1", 4, 8).start();
        SimulatedHost h2 = SimulatedHost.enrol(server.uri(), client, "h2", "x86_64", List.of("arm64"), 8, 16).start();
        waitFor("tr[data-host='h1']");
        waitFor("tr[data-host='h2']");
        waitForText("tr[data-host='h2']", "arm64 (emulated)");

        // Jobs: one named as a script runs; one of 10 GiB takes h2 (only it has that much), so one of 12 GiB waits.
        open("/jobs");
        waitFor("#jobs");
        String scripted = client.submit(JobRequest.command(List.of(SCRIPT_NAME), 2, 2048, 10)).id();
        String filler = client.submit(JobRequest.command(List.of("make", "test"), 2, 10 * 1024, 10)).id();
        waitFor("tr[data-job='" + scripted + "']");
        waitForText("tr[data-job='" + filler + "']", "running");
        String big = client.submit(JobRequest.command(List.of("make", "all"), 2, 12 * 1024, 10)).id();
        waitForText("tr[data-job='" + scripted + "']", "running");
        WebElement name = browser.findElement(By.cssSelector("tr[data-job='" + scripted + "'] td.job-name"));
        assertThat(name.getText()).isEqualTo(SCRIPT_NAME);
        assertThat(name.findElements(By.tagName("script"))).isEmpty();
        assertNoAlert();
        screenshot("jobs");

        open("/fleet");
        waitForText("tr[data-host='h1']", "2 / 4 vCPUs used");
        screenshot("fleet");

        open("/queue");
        waitFor("tr[data-job='" + big + "']");
        waitForText("tr[data-job='" + big + "'] td.why", "no x86_64 host has 2 vCPUs and 12 GiB free");
        waitForText("tr[data-job='" + big + "'] td.why", "the most memory free is");
        screenshot("queue");

        // The job's page: its timeline, its log as it is written, then the admin cancels it.
        open("/jobs/" + scripted);
        waitFor("#timeline");
        waitForText("#timeline", "running");
        waitForText("#timeline", "queued");
        assertThat(browser.findElement(By.id("job-name")).getText()).isEqualTo(SCRIPT_NAME);
        String vm = client.job(scripted).vm();
        SimulatedHost host = client.job(scripted).host().equals("h1") ? h1 : h2;
        host.print(vm, 1, "hello from the VM\n");
        waitForText("#log", "hello from the VM");
        host.print(vm, 2, "<b>not bold</b>\n");
        waitForText("#log", "<b>not bold</b>");
        assertThat(browser.findElements(By.cssSelector("#log b"))).isEmpty();
        screenshot("job");
        browser.findElement(By.id("cancel")).click();
        browser.switchTo().alert().accept();
        waitForText("#content h1", "cancelled");
        assertThat(client.job(scripted).state()).isEqualTo(JobState.CANCELLED);

        open("/launches");
        waitFor("#per-day rect");
        waitForText("#repositories", "local");
        screenshot("launches");

        // A viewer sees the same pages and is refused the admin's actions, even when it sends them itself.
        String viewerToken = client.createViewerToken("wall").token();
        browser.findElement(By.id("sign-out")).click();
        await().atMost(WAIT).until(() -> browser.getCurrentUrl().endsWith("/sign-in"));
        signIn(viewerToken);
        waitFor("tr[data-host='h1']");
        waitForText("#role", "viewer");
        assertThat(browser.findElements(By.cssSelector("button.drain"))).isEmpty();
        String running = client.submit(JobRequest.command(List.of("sleep", "600"), 1, 1024, 10)).id();
        open("/jobs/" + running);
        waitForText("#content h1", "running");
        assertThat(browser.findElements(By.id("cancel"))).isEmpty();
        Object answer = browser.executeAsyncScript("""
                const done = arguments[arguments.length - 1];
                fetch('/dashboard/api/session').then(r => r.json()).then(s =>
                  fetch('/dashboard/api/jobs/' + arguments[0] + '/cancel', {method: 'POST', headers: {'X-Kiln-Csrf': s.csrf}}))
                  .then(r => r.text().then(t => done({status: r.status, body: t})));
                """, running);
        @SuppressWarnings("unchecked")
        Map<String, Object> refused = (Map<String, Object>) answer;
        assertThat(((Number) refused.get("status")).intValue()).isEqualTo(403);
        assertThat((String) refused.get("body")).contains("a viewer looks but does not act");
        assertThat(client.job(running).state()).isEqualTo(JobState.RUNNING);
        h1.close();
        h2.close();
    }

    void assertNoAlert() {
        try {
            browser.switchTo().alert();
            throw new AssertionError("a script in a job's name ran: an alert is open");
        } catch (NoAlertPresentException expected) {
            // The name stayed text.
        }
    }
}
