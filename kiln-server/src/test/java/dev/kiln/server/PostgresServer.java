package dev.kiln.server;

import dev.kiln.testkit.TestingPostgres;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real PostgreSQL server for a test class, registered with {@code @RegisterExtension static final
 * PostgresServer postgres = new PostgresServer()}: one server for the whole run of the module's tests (each
 * test takes a new database of it), stopped by JUnit when the run ends, since starting one costs seconds.
 */
public final class PostgresServer implements BeforeAllCallback {
    private TestingPostgres server;

    @Override
    public void beforeAll(ExtensionContext context) {
        server = context.getRoot().getStore(ExtensionContext.Namespace.GLOBAL)
                .computeIfAbsent(PostgresServer.class, key -> TestingPostgres.start(), TestingPostgres.class);
    }

    /** The server itself, for the tests that stop, kill or restart it. */
    public TestingPostgres server() {
        if (server == null) {
            throw new IllegalStateException("PostgresServer must be registered with @RegisterExtension on a static field");
        }
        return server;
    }

    public String newDatabase() {
        return server().newDatabase();
    }
}
