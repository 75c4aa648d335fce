package dev.kiln.github;

/** A repository an installation can see. */
public record Repository(long id, String owner, String name, boolean isPrivate) {
    public String fullName() {
        return owner + "/" + name;
    }
}
