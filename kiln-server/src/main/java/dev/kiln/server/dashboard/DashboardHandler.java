package dev.kiln.server.dashboard;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.server.ControlPlane;
import dev.kiln.server.Exchange;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dashboard on the server's listener: sign-in and sign-out, the pages (one HTML file whose script draws each page
 * from JSON with text nodes only, so that no value from outside is ever parsed as HTML), their JSON under
 * {@code /dashboard/api/}, and the admin's actions there, which need the admin role and the session's CSRF token.
 */
final class DashboardHandler implements HttpHandler {
    private static final Logger log = LoggerFactory.getLogger(DashboardHandler.class);
    static final String COOKIE = "kiln_session";
    static final String CSRF_HEADER = "X-Kiln-Csrf";
    private static final Pattern PAGE = Pattern.compile("/(fleet|queue|jobs|launches|jobs/[^/]{1,64})");
    private static final Pattern JOB = Pattern.compile("/dashboard/api/jobs/([^/]{1,64})(/log|/cancel)?");
    private static final Pattern HOST = Pattern.compile("/dashboard/api/hosts/([^/]{1,64})/(drain|resume)");
    private static final int MAX_FORM = 4 << 10;

    private final ControlPlane control;
    private final Sessions sessions;
    private final Assets assets;
    private final QueueData queue;
    private final JobsData jobs;
    private final JobData job;
    private final LaunchesData launches;

    DashboardHandler(ControlPlane control, Sessions sessions, Assets assets) {
        this.control = requireNonNull(control, "control is null");
        this.sessions = requireNonNull(sessions, "sessions is null");
        this.assets = requireNonNull(assets, "assets is null");
        this.queue = new QueueData(control);
        this.jobs = new JobsData(control);
        this.job = new JobData(control);
        this.launches = new LaunchesData(control);
    }

    @Override
    public void handle(HttpExchange http) throws IOException {
        Web web = new Web(http);
        try {
            route(web);
        } catch (Exchange.WrongMethod e) {
            new Exchange(http).sendWrongMethod(e);
        } catch (KilnException e) {
            web.error(Exchange.status(e.code()), e.code(), e.getMessage());
        } catch (RuntimeException e) {
            new Exchange(http).sendUnexpected(log, e);
        } finally {
            http.close();
        }
    }

    private void route(Web web) throws IOException {
        String path = web.path();
        String method = web.method();
        if (path.startsWith("/assets/") && method.equals("GET")) {
            Optional<Assets.Asset> asset = assets.get(path.substring("/assets/".length()));
            if (asset.isPresent()) {
                web.send(200, asset.get().type(), asset.get().bytes());
            } else {
                notFound(web);
            }
            return;
        }
        if (path.equals("/") && method.equals("GET")) {
            web.redirect("/fleet");
            return;
        }
        if (path.equals("/sign-in")) {
            signIn(web);
            return;
        }
        Optional<Session> session = sessions.find(web.cookie(COOKIE));
        if (PAGE.matcher(path).matches() && method.equals("GET")) {
            if (session.isEmpty()) {
                web.redirect("/sign-in");
            } else {
                page(web, "app.html");
            }
            return;
        }
        if (path.equals("/sign-out") || path.startsWith("/dashboard/api/")) {
            if (session.isEmpty()) {
                web.error(401, ErrorCode.UNAUTHENTICATED, "sign in first (the session is missing or has ended)");
                return;
            }
            if (method.equals("POST")) {
                act(web, session.get());
            } else if (method.equals("GET")) {
                read(web, session.get());
            } else {
                throw new Exchange.WrongMethod(method, path, java.util.List.of("GET", "POST"));
            }
            return;
        }
        notFound(web);
    }

    private void signIn(Web web) throws IOException {
        if (web.method().equals("GET")) {
            page(web, "sign-in.html");
            return;
        }
        if (!web.method().equals("POST")) {
            throw new Exchange.WrongMethod(web.method(), web.path(), java.util.List.of("GET", "POST"));
        }
        if (!web.sameOrigin()) {
            web.error(403, ErrorCode.UNAUTHENTICATED, "a sign-in from another site's page is refused");
            return;
        }
        Optional<Sessions.Opened> opened = sessions.open(web.form(MAX_FORM).get("token"));
        if (opened.isEmpty()) {
            web.redirect("/sign-in?failed");
            return;
        }
        web.setCookie(COOKIE + "=" + opened.get().id() + "; Path=/; HttpOnly; SameSite=Strict; Max-Age="
                + Sessions.LIFETIME.toSeconds() + (web.overTls() ? "; Secure" : ""));
        log.info("dashboard: {} signed in", opened.get().session().role().name().toLowerCase(java.util.Locale.ROOT));
        web.redirect("/fleet");
    }

    private void read(Web web, Session session) throws IOException {
        String path = web.path();
        switch (path) {
            case "/dashboard/api/session" -> web.json(200, new SessionView(session.role(), session.csrf()));
            case "/dashboard/api/fleet" -> web.json(200, new Fleet(control.clock().instant().toString(), control.hosts()));
            case "/dashboard/api/queue" -> web.json(200, queue.read());
            case "/dashboard/api/jobs" -> web.json(200, jobs.read(JobsData.Filter.of(web)));
            case "/dashboard/api/launches" -> web.json(200, launches.read());
            default -> {
                Matcher one = JOB.matcher(path);
                if (one.matches() && one.group(2) == null) {
                    web.json(200, job.read(one.group(1)));
                } else if (one.matches() && one.group(2).equals("/log")) {
                    web.json(200, control.logs(one.group(1), web.queryLong("after", 0, 0, Long.MAX_VALUE)));
                } else {
                    notFound(web);
                }
            }
        }
    }

    record SessionView(Role role, String csrf) {}

    record Fleet(String now, java.util.List<dev.kiln.api.HostView> hosts) {}

    /** An action: only from this server's own pages (Origin, and the session's CSRF token), and only by the admin. */
    private void act(Web web, Session session) throws IOException {
        String path = web.path();
        if (!web.sameOrigin() || !sameSecret(web.header(CSRF_HEADER), session.csrf())) {
            web.error(403, ErrorCode.UNAUTHENTICATED, "this action did not come from the dashboard's own page"
                    + " (its " + CSRF_HEADER + " header is missing or wrong)");
            return;
        }
        if (path.equals("/sign-out")) {
            sessions.close(session);
            web.setCookie(COOKIE + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" + (web.overTls() ? "; Secure" : ""));
            web.json(200, java.util.Map.of("signedOut", true));
            return;
        }
        if (session.role() != Role.ADMIN) {
            web.error(403, ErrorCode.UNAUTHENTICATED, "a viewer looks but does not act: sign in with the admin token to"
                    + " cancel jobs or drain hosts");
            return;
        }
        Matcher one = JOB.matcher(path);
        if (one.matches() && "/cancel".equals(one.group(2))) {
            log.info("dashboard: the admin cancels job {}", one.group(1));
            web.json(200, control.cancel(one.group(1)));
            return;
        }
        Matcher host = HOST.matcher(path);
        if (host.matches()) {
            log.info("dashboard: the admin {}s host {}", host.group(2), host.group(1));
            web.json(200, control.drain(host.group(1), host.group(2).equals("drain")));
            return;
        }
        throw new KilnException(ErrorCode.NOT_FOUND, "no dashboard action POST " + path);
    }

    private void page(Web web, String name) throws IOException {
        Assets.Asset page = assets.page(name);
        web.send(200, page.type(), page.bytes());
    }

    private static void notFound(Web web) throws IOException {
        web.send(404, "text/plain; charset=utf-8", ("no page " + shorten(web.path()) + "; the dashboard is at /\n")
                .getBytes(StandardCharsets.UTF_8));
    }

    private static boolean sameSecret(String given, String expected) {
        return given != null && MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8),
                expected.getBytes(StandardCharsets.UTF_8));
    }

    private static String shorten(String text) {
        return text.length() > 64 ? text.substring(0, 64) + "…" : text;
    }
}
