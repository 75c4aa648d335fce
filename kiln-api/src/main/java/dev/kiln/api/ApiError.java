package dev.kiln.api;

/** Every error the API answers: a stable {@link dev.kiln.core.ErrorCode} name and a message for people. */
public record ApiError(String code, String message) {}
