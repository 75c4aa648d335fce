package dev.kiln.github;

import java.util.List;
import java.util.Map;

/**
 * One installation of the App: on an organisation or a user account.
 *
 * @param accountType {@code Organization} or {@code User}
 * @param repositorySelection {@code all} or {@code selected}
 * @param permissions permission name to {@code read} or {@code write}
 * @param events the webhook events the installation sends
 */
public record Installation(long id, String account, String accountType, String repositorySelection,
        Map<String, String> permissions, List<String> events, boolean suspended) {
    public Installation {
        permissions = Map.copyOf(permissions);
        events = List.copyOf(events);
    }

    public boolean isOrganization() {
        return "Organization".equalsIgnoreCase(accountType);
    }

    /** Whether the installation holds {@code permission} at {@code level} ({@code read} or {@code write}) or above. */
    public boolean has(String permission, String level) {
        String held = permissions.get(permission);
        return held != null && (held.equals(level) || held.equals("write") || held.equals("admin"));
    }
}
