package dev.kiln.api;

import dev.kiln.core.JobState;

/** One step of a job's timeline: the state it entered, when (ISO-8601), and why. */
public record JobEvent(JobState state, String at, String detail) {}
