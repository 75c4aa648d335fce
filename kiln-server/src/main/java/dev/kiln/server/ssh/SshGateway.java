package dev.kiln.server.ssh;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.time.Clock;
import java.util.List;
import org.apache.sshd.common.AttributeRepository;
import org.apache.sshd.common.channel.ChannelFactory;
import org.apache.sshd.common.config.keys.KeyUtils;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.apache.sshd.server.SshServer;
import org.apache.sshd.server.channel.ChannelSessionFactory;
import org.apache.sshd.server.config.keys.AuthorizedKeysAuthenticator;
import org.apache.sshd.server.keyprovider.SimpleGeneratorHostKeyProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's SSH gateway (Apache MINA SSHD, on a port of its own). Users (keys in an authorized_keys file)
 * reach a running job's VM with {@code ssh -J USER@GATEWAY runner@JOB}: admins (keys in an authorized_keys file)
 * every job, anyone else the jobs that grant their key (a GitHub job's triggering user, an organisation's keys
 * its operator configured). Their {@code direct-tcpip} channel to
 * {@code JOB:22} goes through the connection the job's host's agent holds to the gateway (user {@code kiln-agent},
 * its host token as password), then from the host to the VM's sshd over its tap. Every session is recorded.
 * The gateway's host key persists in the server's data directory (0600).
 */
public final class SshGateway implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SshGateway.class);
    /** The user name agents log in with; no user key may log in under it. */
    public static final String AGENT_USER = "kiln-agent";
    static final AttributeRepository.AttributeKey<String> AGENT_HOST = new AttributeRepository.AttributeKey<>();
    static final AttributeRepository.AttributeKey<String> USER_KEY = new AttributeRepository.AttributeKey<>();
    /** The user's key ({@code TYPE BASE64}) when it is no admin's: it reaches only the jobs that grant it. */
    static final AttributeRepository.AttributeKey<String> GRANTED_KEY = new AttributeRepository.AttributeKey<>();

    /**
     * @param bindAddress and port where the gateway listens (port 0: a free one)
     * @param hostKeyFile the gateway's own host key, made on first start
     * @param authorizedKeys the admins' public keys (authorized_keys format), read again when the file changes
     * @param orgKeys a folder of one authorized_keys file per organisation ({@code DIR/acme}) whose keys reach that
     *     organisation's jobs, or null for none
     */
    public record Config(String bindAddress, int port, Path hostKeyFile, Path authorizedKeys, Path orgKeys) {
        public Config {
            requireNonNull(bindAddress, "bindAddress is null");
            requireNonNull(hostKeyFile, "hostKeyFile is null");
            requireNonNull(authorizedKeys, "authorizedKeys is null");
        }

        /** A gateway whose jobs the admins alone reach, besides the jobs' own users. */
        public Config(String bindAddress, int port, Path hostKeyFile, Path authorizedKeys) {
            this(bindAddress, port, hostKeyFile, authorizedKeys, null);
        }
    }

    private final SshServer server;
    private final String hostKey;

    private SshGateway(SshServer server, String hostKey) {
        this.server = server;
        this.hostKey = hostKey;
    }

    public static SshGateway start(Config config, SshDirectory directory, Clock clock) {
        requireNonNull(config, "config is null");
        requireNonNull(directory, "directory is null");
        requireNonNull(clock, "clock is null");
        if (config.orgKeys() != null && !Files.isDirectory(config.orgKeys())) {
            throw new IllegalArgumentException("the SSH gateway's organisation keys folder " + config.orgKeys()
                    + " is not a directory: it holds one authorized_keys file per organisation, named as the organisation");
        }
        if (!Files.isReadable(config.authorizedKeys())) {
            throw new IllegalArgumentException("the SSH gateway's authorized keys file " + config.authorizedKeys()
                    + " is missing or unreadable: it lists the public keys of the users who may reach jobs");
        }
        AgentLinks links = new AgentLinks();
        SshServer server = SshServer.setUpDefaultServer();
        server.setHost(config.bindAddress());
        server.setPort(config.port());
        SimpleGeneratorHostKeyProvider keys = new SimpleGeneratorHostKeyProvider(config.hostKeyFile());
        server.setKeyPairProvider(keys);
        AuthorizedKeysAuthenticator users = new AuthorizedKeysAuthenticator(config.authorizedKeys());
        server.setPublickeyAuthenticator((user, key, session) -> {
            if (AGENT_USER.equals(user)) {
                return false;
            }
            if (users.authenticate(user, key, session)) {
                session.setAttribute(USER_KEY, KeyUtils.getFingerPrint(key));
                return true;
            }
            // Not an admin: in while a running job grants the key, which then reaches that job alone.
            String line = PublicKeyEntry.toString(key);
            if (!directory.anyJobGrants(line)) {
                return false;
            }
            session.setAttribute(USER_KEY, KeyUtils.getFingerPrint(key));
            session.setAttribute(GRANTED_KEY, line);
            return true;
        });
        server.setPasswordAuthenticator((user, password, session) -> {
            if (!AGENT_USER.equals(user)) {
                return false;
            }
            return directory.hostOfToken(password).map(host -> {
                session.setAttribute(AGENT_HOST, host);
                return true;
            }).orElse(false);
        });
        // Users by key, agents by their host token: nothing else is offered.
        server.setKeyboardInteractiveAuthenticator(null);
        server.setUserAuthFactories(List.of(org.apache.sshd.server.auth.pubkey.UserAuthPublicKeyFactory.INSTANCE,
                org.apache.sshd.server.auth.password.UserAuthPasswordFactory.INSTANCE));
        server.setChannelFactories(List.<ChannelFactory>of(ChannelSessionFactory.INSTANCE, new ChannelFactory() {
            @Override
            public String getName() {
                return "direct-tcpip";
            }

            @Override
            public org.apache.sshd.common.channel.Channel createChannel(org.apache.sshd.common.session.Session session) {
                return new JobChannel(directory, links, clock);
            }
        }));
        server.setCommandFactory(new AgentCommands(links));
        try {
            server.start();
            KeyPair pair = keys.loadKeys(null).iterator().next();
            Files.setPosixFilePermissions(config.hostKeyFile(), PosixFilePermissions.fromString("rw-------"));
            String publicKey = PublicKeyEntry.toString(pair.getPublic());
            log.info("Kiln SSH gateway listening on {}:{}, host key {}", config.bindAddress(), server.getPort(),
                    KeyUtils.getFingerPrint(pair.getPublic()));
            return new SshGateway(server, publicKey);
        } catch (IOException e) {
            try {
                server.stop(true);
            } catch (IOException ignored) {
                // Already failing.
            }
            throw new UncheckedIOException("cannot start the SSH gateway on " + config.bindAddress() + ":" + config.port(), e);
        }
    }

    public int port() {
        return server.getPort();
    }

    /** The gateway's public host key, {@code TYPE BASE64}. */
    public String hostKey() {
        return hostKey;
    }

    @Override
    public void close() {
        try {
            server.stop(true);
        } catch (IOException e) {
            log.warn("the SSH gateway did not stop cleanly: {}", e.getMessage());
        }
    }
}
