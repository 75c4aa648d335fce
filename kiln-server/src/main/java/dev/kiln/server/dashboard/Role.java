package dev.kiln.server.dashboard;

/** What a signed-in person may do: an admin also acts (cancels jobs, drains hosts); a viewer only looks. */
enum Role {
    ADMIN,
    VIEWER
}
