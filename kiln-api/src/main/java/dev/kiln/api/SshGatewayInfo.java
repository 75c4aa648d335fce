package dev.kiln.api;

/**
 * Where an agent reaches the server's SSH gateway to relay debugging sessions to its VMs, over a connection it
 * opens itself (the host never listens).
 *
 * @param port the gateway's port on the server's own host name
 * @param hostKey the gateway's public host key ({@code TYPE BASE64}), which the agent checks: it learns it here,
 *     from the server it already trusts, never on first use
 */
public record SshGatewayInfo(int port, String hostKey) {}
