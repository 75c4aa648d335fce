package dev.kiln.api;

/** An agent's first call: the one-time enrolment token from {@code kiln hosts add}. */
public record EnrolRequest(String enrolmentToken) {}
