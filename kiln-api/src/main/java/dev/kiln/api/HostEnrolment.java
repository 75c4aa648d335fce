package dev.kiln.api;

/** The answer to {@code kiln hosts add}: the one-time token the new host's agent enrols with. */
public record HostEnrolment(String host, String enrolmentToken) {}
