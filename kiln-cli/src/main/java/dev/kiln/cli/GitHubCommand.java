package dev.kiln.cli;

import dev.kiln.github.GitHubCheck;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** `kiln github`: the GitHub App. */
@Command(name = "github", description = "The GitHub App Kiln serves.", subcommands = GitHubCommand.Check.class)
final class GitHubCommand {

    /** `kiln github check`: the App's credentials, installations, permissions and events. */
    @Command(name = "check", description = "Checks the GitHub App: credentials, installations, permissions, events.")
    static final class Check implements Callable<Integer> {
        @Mixin
        GitHubOptions github;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            GitHubCheck.Report report = new GitHubCheck(github.app()).run();
            spec.commandLine().getOut().print(report.render());
            spec.commandLine().getOut().flush();
            return report.ok() ? ExitCodes.OK : ExitCodes.USAGE;
        }
    }
}
