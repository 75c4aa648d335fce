package dev.kiln.api;

/** The host's name and the lasting credential its agent syncs with from now on (shown once). */
public record EnrolAnswer(String host, String hostToken) {}
