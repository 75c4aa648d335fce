package dev.kiln.server;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * Makes the JDK's {@link HttpServer} with the connection handling Kiln's clients need. Every agent
 * keeps two connections alive (its held sync and its reporter's), every {@code KilnClient} one per
 * concurrent call, and all of them are HTTP/1.1 connections of the JDK's {@code HttpClient}, which
 * reuses a pooled connection for up to 30 s ({@code jdk.httpclient.keepalive.timeout}) and cannot
 * know that the server closed it in the meantime. The JDK server's defaults close connections under
 * such clients:
 * <ul>
 *   <li>{@code sun.net.httpserver.maxIdleConnections} (default 200): a connection that finishes a
 *       response while 200 others are idle is closed at once, without {@code Connection: close}. Its
 *       client has already pooled it and sends the next request on it: "HTTP/1.1 header parser
 *       received no bytes" or "Broken pipe". A fleet of 100 agents holds more than 200 connections.
 *       No finite cap is safe (the server cannot know how many connections its clients keep), so
 *       idle connections are bounded by time alone.</li>
 *   <li>{@code sun.net.httpserver.idleInterval} (default 30 s, checked every
 *       {@code sun.net.httpserver.clockTick}, 10 s): equal to the client's keep-alive, so a client
 *       may take a connection from its pool at 29.9 s idle as the server closes it at 30 s. The
 *       server waits three times as long, so the client always drops an idle connection first.</li>
 *   <li>{@code sun.net.httpserver.nodelay} (default false): a held sync's answer larger than the
 *       server's 8 KiB output buffer goes out in several writes, and Nagle's algorithm holds back
 *       the last one until the client acknowledges the first (up to its delayed-ACK time).</li>
 * </ul>
 * Long polls need no setting: {@code maxReqTime} and {@code maxRspTime} are unlimited by default.
 * The JDK reads these properties once, when the first HttpServer of the process is made: a value
 * given on the command line wins, and an HttpServer made earlier by other code fixes the defaults
 * (the {@code ConnectionsTest} of this module fails then).
 */
final class HttpServers {
    /** Seconds an idle kept-alive connection stays open: three times the JDK client's keep-alive. */
    static final int IDLE_SECONDS = 90;

    static {
        setUnlessGiven("sun.net.httpserver.maxIdleConnections", String.valueOf(Integer.MAX_VALUE));
        setUnlessGiven("sun.net.httpserver.idleInterval", String.valueOf(IDLE_SECONDS));
        setUnlessGiven("sun.net.httpserver.nodelay", "true");
    }

    static HttpServer create(InetSocketAddress address, int backlog) throws IOException {
        return HttpServer.create(address, backlog);
    }

    private static void setUnlessGiven(String name, String value) {
        if (System.getProperty(name) == null) {
            System.setProperty(name, value);
        }
    }

    private HttpServers() {}
}
