package dev.kiln.github;

import java.util.List;
import java.util.Map;

/** The App itself ({@code GET /app}). */
public record AppInfo(long id, String slug, String name, String owner, Map<String, String> permissions, List<String> events) {
    public AppInfo {
        permissions = Map.copyOf(permissions);
        events = List.copyOf(events);
    }
}
