package dev.kiln.server.dashboard;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.kiln.api.ViewerToken;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.server.ControlPlane;
import dev.kiln.server.Exchange;
import java.io.IOException;
import java.io.InputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /api/v1/viewer-tokens}, for the admin token only: {@code GET} lists the dashboard's viewer tokens, {@code POST
 * {"name"}} makes one (the answer shows it once), {@code DELETE /api/v1/viewer-tokens/NAME} revokes one.
 */
final class ViewerTokenHandler implements HttpHandler {
    private static final Logger log = LoggerFactory.getLogger(ViewerTokenHandler.class);
    static final String PATH = "/api/v1/viewer-tokens";
    private static final Pattern ONE = Pattern.compile(PATH + "/([^/]{1,128})");
    private static final int MAX_BODY = 4 << 10;

    private final ControlPlane control;
    private final ViewerTokens tokens;

    ViewerTokenHandler(ControlPlane control, ViewerTokens tokens) {
        this.control = requireNonNull(control, "control is null");
        this.tokens = requireNonNull(tokens, "tokens is null");
    }

    @Override
    public void handle(HttpExchange http) throws IOException {
        Exchange exchange = new Exchange(http);
        Web web = new Web(http);
        try {
            String path = web.path();
            Matcher one = ONE.matcher(path);
            if (path.equals(PATH)) {
                require(web, "GET", "POST");
                admin(web);
                if (web.method().equals("GET")) {
                    exchange.send(200, tokens.list());
                } else {
                    exchange.send(201, tokens.create(body(http).name()));
                }
            } else if (one.matches()) {
                require(web, "DELETE");
                admin(web);
                tokens.revoke(one.group(1));
                exchange.send(204, null);
            } else {
                throw new KilnException(ErrorCode.NOT_FOUND, "no API " + web.method() + " " + path);
            }
        } catch (Exchange.WrongMethod e) {
            exchange.sendWrongMethod(e);
        } catch (KilnException e) {
            exchange.send(Exchange.status(e.code()), new dev.kiln.api.ApiError(e.code().name(), e.getMessage()));
        } catch (RuntimeException e) {
            exchange.sendUnexpected(log, e);
        } finally {
            exchange.close();
        }
    }

    private static void require(Web web, String... methods) {
        if (!java.util.List.of(methods).contains(web.method())) {
            throw new Exchange.WrongMethod(web.method(), web.path(), java.util.List.of(methods));
        }
    }

    private void admin(Web web) {
        String token = web.bearer();
        if (!control.isAdmin(token)) {
            throw new KilnException(ErrorCode.UNAUTHENTICATED, token == null
                    ? "viewer tokens are the admin's: send `Authorization: Bearer ADMIN_TOKEN`" : "the admin token is wrong");
        }
    }

    private static ViewerToken.Create body(HttpExchange http) {
        try (InputStream in = http.getRequestBody()) {
            byte[] bytes = in.readNBytes(MAX_BODY + 1);
            if (bytes.length > MAX_BODY) {
                throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the request body has more than " + MAX_BODY + " bytes");
            }
            ViewerToken.Create create = bytes.length == 0 ? null : Web.JSON.readValue(bytes, ViewerToken.Create.class);
            if (create == null) {
                throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the body must be {\"name\": \"NAME\"}");
            }
            return create;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the request body is not valid: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "cannot read the request body: " + e.getMessage(), e);
        }
    }
}
