package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * What a launch carries for a debugging shell: the keys its VM's sshd lets in (the admins', the job's
 * organisation's, the job's own user's) and, for {@code kiln-debug} in the job, where the SSH gateway is.
 *
 * @param adminKeys the admins' keys, read at each launch
 * @param orgKeys the keys operators configured per organisation
 * @param gateway the gateway's address as users reach it ({@code HOST:PORT}), or null without a gateway (no sshd)
 */
record SshAccess(Supplier<List<String>> adminKeys, OrgKeys orgKeys, String gateway) {
    static final SshAccess NONE = new SshAccess(List::of, OrgKeys.NONE, null);

    SshAccess {
        requireNonNull(adminKeys, "adminKeys is null");
        requireNonNull(orgKeys, "orgKeys is null");
    }

    /** Who may log in to a VM of the job of {@code org} whose own user holds {@code userKeys}; none without a gateway. */
    List<String> keys(String org, List<String> userKeys) {
        if (gateway == null) {
            return List.of();
        }
        Set<String> keys = new LinkedHashSet<>(adminKeys.get());
        keys.addAll(orgKeys.of(org));
        keys.addAll(userKeys);
        return List.copyOf(keys);
    }

    /** The job's environment with what {@code kiln-debug} reads to say how to connect. */
    Map<String, String> env(Map<String, String> env, String job, String user) {
        Map<String, String> more = new LinkedHashMap<>(env);
        more.put("KILN_JOB_ID", job);
        more.put("KILN_SSH_GATEWAY", gateway);
        if (user != null) {
            more.put("KILN_SSH_USER", user);
        }
        return more;
    }
}
