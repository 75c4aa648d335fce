package dev.kiln.agent;
