package dev.kiln.github;

import static java.util.Objects.requireNonNull;

import java.util.Optional;

/** Where a runner registers: an organisation (any of its repositories' jobs) or one repository. */
public record RunnerScope(String owner, Optional<String> repo) {
    public RunnerScope {
        Names.checkOwner(owner);
        requireNonNull(repo, "repo is null").ifPresent(Names::checkRepo);
    }

    public static RunnerScope org(String org) {
        return new RunnerScope(org, Optional.empty());
    }

    public static RunnerScope repo(String owner, String repo) {
        return new RunnerScope(owner, Optional.of(repo));
    }

    /** {@code /orgs/acme} or {@code /repos/acme/widgets}. */
    String path() {
        return repo.map(r -> "/repos/" + owner + "/" + r).orElse("/orgs/" + owner);
    }

    /** The route's template, for counting calls: {@code /orgs/{org}} or {@code /repos/{owner}/{repo}}. */
    String template() {
        return repo.isPresent() ? "/repos/{owner}/{repo}" : "/orgs/{org}";
    }

    @Override
    public String toString() {
        return repo.map(r -> owner + "/" + r).orElse(owner);
    }
}
