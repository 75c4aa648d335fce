package dev.kiln.server;
