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
 *       {@code sun.net.httpserver.clockTick}, below): equal to the client's keep-alive, so a client
 *       may take a connection from its pool at 29.9 s idle as the server closes it at 30 s. The
 *       server waits three times as long, so the client always drops an idle connection first.</li>
 *   <li>{@code sun.net.httpserver.nodelay} (default false): a held sync's answer larger than the
 *       server's 8 KiB output buffer goes out in several writes, and Nagle's algorithm holds back
 *       the last one until the client acknowledges the first (up to its delayed-ACK time).</li>
 * </ul>
 * And what bounds a peer that holds connections without credentials (a slow-headers or slow-body attack):
 * <ul>
 *   <li>{@code sun.net.httpserver.maxReqTime} ({@link #REQUEST_SECONDS}): the time from a request's first
 *       byte until its headers and body are read. The JDK stops this clock when the body is read to its
 *       end (at once for a request without a body), not when the answer is sent, so a held sync or log
 *       poll (which reads its body first, then waits up to a minute) is not cut; a request still
 *       arriving after it is closed. It also closes a new connection that sends nothing for that long.
 *       {@code maxRspTime} stays unlimited: its clock runs from the body's end, through a long poll.</li>
 *   <li>{@code jdk.httpserver.maxConnections} ({@link #MAX_CONNECTIONS}): connections beyond it are
 *       closed as they are accepted (never one a client has pooled, unlike {@code maxIdleConnections}).
 *       A fleet of 1,000 agents holds about 2,000.</li>
 *   <li>{@code sun.net.httpserver.maxReqHeaderSize} ({@link #MAX_HEADER_BYTES}): Kiln's clients and
 *       GitHub send a few hundred bytes of headers; the JDK's default is 380 KiB per request.</li>
 *   <li>{@code sun.net.httpserver.clockTick} (1 s, default 10 s): how often idle and new connections
 *       are checked, so a silent connection lasts {@link #REQUEST_SECONDS} plus 1 s, not plus 10.</li>
 * </ul>
 * And so that a refusal reaches a client that writes its whole body before it reads (as most do):
 * <ul>
 *   <li>{@code sun.net.httpserver.drainAmount} ({@link #LINGER_BYTES}, default 64 KiB): what the JDK reads
 *       and discards of an unread body when an exchange ends, before it closes the connection. A socket
 *       closed with bytes unread is reset, and the reset discards the answer (a 413, a 401) before the
 *       client reads it. The read uses one 2 KiB buffer and is bounded in time by {@code maxReqTime}.</li>
 * </ul>
 * Bodies are bounded per route as they are read (413), and unverified webhook bodies share a budget
 * ({@link DeliveryMemory}).
 * The JDK reads these properties once, when the first HttpServer of the process is made: a value
 * given on the command line wins, and an HttpServer made earlier by other code fixes the defaults
 * (the {@code ConnectionsTest} of this module fails then).
 */
final class HttpServers {
    /** Seconds an idle kept-alive connection stays open: three times the JDK client's keep-alive. */
    static final int IDLE_SECONDS = 90;
    /**
     * Seconds to receive a request's headers and body: GitHub itself gives up on a delivery after 10 s,
     * and an agent's largest log upload (8 MiB) needs 2.2 Mbit/s to arrive in time.
     */
    static final int REQUEST_SECONDS = 30;
    static final int MAX_CONNECTIONS = 4096;
    static final int MAX_HEADER_BYTES = 32 << 10;
    /** Bytes of an unread body read and discarded before a connection closes: above every route's limit. */
    static final long LINGER_BYTES = 64L << 20;

    static {
        setUnlessGiven("sun.net.httpserver.maxIdleConnections", String.valueOf(Integer.MAX_VALUE));
        setUnlessGiven("sun.net.httpserver.idleInterval", String.valueOf(IDLE_SECONDS));
        setUnlessGiven("sun.net.httpserver.nodelay", "true");
        setUnlessGiven("sun.net.httpserver.maxReqTime", String.valueOf(REQUEST_SECONDS));
        setUnlessGiven("jdk.httpserver.maxConnections", String.valueOf(MAX_CONNECTIONS));
        setUnlessGiven("sun.net.httpserver.maxReqHeaderSize", String.valueOf(MAX_HEADER_BYTES));
        setUnlessGiven("sun.net.httpserver.clockTick", "1000");
        setUnlessGiven("sun.net.httpserver.drainAmount", String.valueOf(LINGER_BYTES));
    }

    /** The request time limit in force (a value given on the command line wins over {@link #REQUEST_SECONDS}). */
    static int requestSeconds() {
        return Integer.getInteger("sun.net.httpserver.maxReqTime", REQUEST_SECONDS);
    }

    /** The connection cap in force. */
    static int maxConnections() {
        return Integer.getInteger("jdk.httpserver.maxConnections", MAX_CONNECTIONS);
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
