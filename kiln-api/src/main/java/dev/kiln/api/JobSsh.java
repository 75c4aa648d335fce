package dev.kiln.api;

import java.util.List;

/**
 * A job's debugging shell.
 *
 * @param hostKey the host key its VM's sshd answers with ({@code ssh-ed25519 BASE64}); null while none is known (the
 *     VM is not up, or has no shell because the server runs no SSH gateway)
 * @param gatewayPort the SSH gateway's port on the server's host name; 0 without a gateway
 * @param gatewayHostKey the gateway's own host key ({@code TYPE BASE64}); null without a gateway
 * @param sessions every session into the job, oldest first
 */
public record JobSsh(String job, String hostKey, int gatewayPort, String gatewayHostKey, List<SshSessionView> sessions) {}
