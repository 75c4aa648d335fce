package dev.kiln.cli;

import dev.kiln.api.ViewerToken;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** `kiln viewer-tokens`: read-only tokens for the dashboard, which the admin makes and revokes. */
@Command(name = "viewer-tokens", description = "Lists the dashboard's read-only viewer tokens; create and revoke manage them.",
        subcommands = {ViewerTokensCommand.Create.class, ViewerTokensCommand.Revoke.class})
final class ViewerTokensCommand implements Callable<Integer> {
    final ClientOptions server = new ClientOptions();

    @Option(names = "--json", description = "print JSON")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        List<ViewerToken> tokens = server.client().viewerTokens();
        var out = spec.commandLine().getOut();
        if (json) {
            Output.json(out, tokens);
        } else {
            Output.table(out, List.of("NAME", "CREATED"), tokens.stream().map(t -> List.of(t.name(), t.createdAt())).toList());
        }
        return ExitCodes.OK;
    }

    @Command(name = "create", description = "Makes a viewer token and prints it: it is shown this once, and signs in to the"
            + " dashboard to look, not to act.")
    static final class Create implements Callable<Integer> {
        final ClientOptions server = new ClientOptions();

        @Parameters(paramLabel = "NAME", description = "who or what it is for: lower-case letters, digits, '.', '_', '-'")
        String name;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            ViewerToken.Created created = server.client().createViewerToken(name);
            spec.commandLine().getOut().println(created.token());
            spec.commandLine().getErr().println("kiln: viewer token " + created.name() + " made; sign in at "
                    + server.server() + "/ with it (it is not shown again; `kiln viewer-tokens revoke " + created.name()
                    + "` ends it)");
            return ExitCodes.OK;
        }
    }

    @Command(name = "revoke", description = "Revokes a viewer token; the dashboard sessions it opened end.")
    static final class Revoke implements Callable<Integer> {
        final ClientOptions server = new ClientOptions();

        @Parameters(paramLabel = "NAME")
        String name;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            server.client().revokeViewerToken(name);
            spec.commandLine().getOut().println("viewer token " + name + " revoked");
            return ExitCodes.OK;
        }
    }
}
