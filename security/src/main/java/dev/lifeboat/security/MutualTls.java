package dev.lifeboat.security;

import io.grpc.ChannelCredentials;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettySslContextChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettySslContextServerCredentials;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyManagementException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLContextSpi;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.bouncycastle.asn1.x500.style.BCStyle;

/**
 * Mutual TLS for every Lifeboat connection: gRPC between controller, agents and CLI, and HTTPS for the REST API.
 * Each end presents a certificate from {@link Pki} and trusts exactly the CA in its {@link TlsFiles}; nothing else
 * (not the JDK's public roots) is trusted. TLS 1.3 and 1.2 only.
 */
public final class MutualTls {
    /** The authenticated peer of the current gRPC call, set by {@link #identityInterceptor()}. */
    public static final Context.Key<PeerIdentity> PEER = Context.key("lifeboat-peer-identity");

    static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    private MutualTls() {}

    /** Who is on the other end, from its verified certificate: the CN and the role in its OU. */
    public record PeerIdentity(String commonName, Pki.Role role) {
        public static PeerIdentity of(X509Certificate cert) {
            String cn = Pki.subjectAttribute(cert, BCStyle.CN);
            String ou = Pki.subjectAttribute(cert, BCStyle.OU);
            if (cn == null || cn.isBlank()) {
                throw new PkiException("certificate "
                        + cert.getSubjectX500Principal().getName() + " has no CN: issue one with `lifeboat pki issue`");
            }
            if (ou == null) {
                throw new PkiException(
                        "certificate CN=" + cn + " has no role (OU): issue one with `lifeboat pki issue --role …`");
            }
            return new PeerIdentity(cn, Pki.Role.fromOu(ou));
        }

        /** The peer of the gRPC call running on this thread, or null outside a call that passed {@link
         * #identityInterceptor()}. */
        public static PeerIdentity current() {
            return PEER.get();
        }
    }

    /** gRPC server side: presents {@code files}' certificate and requires a client certificate signed by its CA. */
    public static ServerCredentials serverCredentials(TlsFiles files) {
        X509Certificate cert = files.check();
        PrivateKey key = files.privateKey();
        try {
            SslContext ctx = GrpcSslContexts.configure(SslContextBuilder.forServer(key, cert))
                    .trustManager(files.caCertificates().toArray(X509Certificate[]::new))
                    .clientAuth(ClientAuth.REQUIRE)
                    .protocols(PROTOCOLS)
                    .build();
            return NettySslContextServerCredentials.create(ctx);
        } catch (SSLException e) {
            throw new PkiException("cannot set up TLS with " + files + ": " + e.getMessage(), e);
        }
    }

    /** gRPC client side: presents {@code files}' certificate and accepts only servers whose certificate its CA signed
     * for the dialled name. */
    public static ChannelCredentials channelCredentials(TlsFiles files) {
        X509Certificate cert = files.check();
        PrivateKey key = files.privateKey();
        try {
            SslContext ctx = GrpcSslContexts.forClient()
                    .keyManager(key, cert)
                    .trustManager(files.caCertificates().toArray(X509Certificate[]::new))
                    .protocols(PROTOCOLS)
                    .build();
            return NettySslContextChannelCredentials.create(ctx);
        } catch (SSLException e) {
            throw new PkiException("cannot set up TLS with " + files + ": " + e.getMessage(), e);
        }
    }

    /**
     * As {@link #channelCredentials(TlsFiles)}, and the server's certificate must also carry {@code serverRole}: an
     * agent
     * dialling the controller accepts only a controller certificate, not another agent's issued for the same host.
     */
    public static ChannelCredentials channelCredentials(TlsFiles files, Pki.Role serverRole) {
        X509Certificate cert = files.check();
        PrivateKey key = files.privateKey();
        try {
            TrustManagerFactory tmf = trusting(files.caCertificates());
            X509ExtendedTrustManager pkix = null;
            for (TrustManager tm : tmf.getTrustManagers()) {
                if (tm instanceof X509ExtendedTrustManager x) {
                    pkix = x;
                }
            }
            SslContext ctx = GrpcSslContexts.forClient()
                    .keyManager(key, cert)
                    .trustManager(new RoleCheckingTrustManager(pkix, serverRole))
                    .protocols(PROTOCOLS)
                    .build();
            return NettySslContextChannelCredentials.create(ctx);
        } catch (GeneralSecurityException | IOException e) {
            throw new PkiException("cannot set up TLS with " + files + ": " + e.getMessage(), e);
        }
    }

    /** The JDK's own chain and host-name checks, then the role in the server certificate's subject. */
    private static final class RoleCheckingTrustManager extends X509ExtendedTrustManager {
        private final X509ExtendedTrustManager pkix;
        private final Pki.Role role;

        RoleCheckingTrustManager(X509ExtendedTrustManager pkix, Pki.Role role) {
            this.pkix = pkix;
            this.role = role;
        }

        private void checkRole(X509Certificate[] chain) throws CertificateException {
            PeerIdentity p;
            try {
                p = PeerIdentity.of(chain[0]);
            } catch (RuntimeException e) {
                throw new CertificateException("the server's certificate names no Lifeboat role: " + e.getMessage());
            }
            if (p.role() != role) {
                throw new CertificateException(
                        "the server presented " + p.role().name().toLowerCase() + " certificate " + p.commonName()
                                + "; a " + role.name().toLowerCase() + " certificate is required");
            }
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            pkix.checkServerTrusted(chain, authType, engine);
            checkRole(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            pkix.checkServerTrusted(chain, authType, socket);
            checkRole(chain);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            pkix.checkServerTrusted(chain, authType);
            checkRole(chain);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("client side only");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            throw new CertificateException("client side only");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("client side only");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return pkix.getAcceptedIssuers();
        }
    }

    /**
     * Puts the caller's {@link PeerIdentity} (from the client certificate TLS verified) into {@link #PEER} for the
     * call; a call without one (plaintext, or a certificate without a Lifeboat CN/role) ends UNAUTHENTICATED.
     */
    public static ServerInterceptor identityInterceptor() {
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(
                    ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
                PeerIdentity peer;
                try {
                    peer = peerOf(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
                } catch (PkiException e) {
                    call.close(Status.UNAUTHENTICATED.withDescription(e.getMessage()), new Metadata());
                    return new ServerCall.Listener<>() {};
                }
                return Contexts.interceptCall(Context.current().withValue(PEER, peer), call, headers, next);
            }
        };
    }

    /** The verified peer of a TLS session; for HTTPS servers too (e.g. {@code HttpsExchange.getSSLSession()}). */
    public static PeerIdentity peerOf(SSLSession session) {
        if (session == null) {
            throw new PkiException("the connection is not TLS: a client certificate from the Lifeboat CA is required");
        }
        Certificate[] chain;
        try {
            chain = session.getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            throw new PkiException(
                    "the client presented no certificate: a certificate from the Lifeboat CA is required");
        }
        if (chain.length == 0 || !(chain[0] instanceof X509Certificate x)) {
            throw new PkiException("the client presented no X.509 certificate");
        }
        return PeerIdentity.of(x);
    }

    /**
     * For HTTPS servers (JDK HttpsServer, Jetty): presents {@code files}' certificate, trusts only its CA, and with
     * {@code requireClientCert} refuses clients without a certificate from that CA; without it a client certificate is
     * optional (e.g. bearer tokens instead), but one from another CA is still refused. The rule is in the
     * context's default parameters and every engine and server socket it makes, so a server using the defaults
     * (e.g. {@code new HttpsConfigurator(ctx)}) enforces it.
     */
    public static SSLContext serverSslContext(TlsFiles files, boolean requireClientCert) {
        return sslContext(files, true, requireClientCert);
    }

    /** For HTTPS clients (JDK HttpClient, Jetty client): presents {@code files}' certificate and trusts only its CA. */
    public static SSLContext clientSslContext(TlsFiles files) {
        return sslContext(files, false, false);
    }

    /**
     * For HTTPS clients that authenticate otherwise (bearer tokens): trusts only the CAs in {@code caCert}, presents no
     * certificate.
     */
    public static SSLContext trustingSslContext(Path caCert) {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(
                    null,
                    trusting(Pem.readCertificates(caCert, "CA certificate")).getTrustManagers(),
                    new SecureRandom());
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new PkiException("cannot trust " + caCert + ": " + e.getMessage(), e);
        }
    }

    /** A PKIX trust manager factory that trusts exactly these CAs. */
    private static TrustManagerFactory trusting(List<X509Certificate> cas)
            throws GeneralSecurityException, IOException {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        for (int i = 0; i < cas.size(); i++) {
            trust.setCertificateEntry("ca-" + i, cas.get(i));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(trust);
        return tmf;
    }

    private static SSLContext sslContext(TlsFiles files, boolean server, boolean requireClientCert) {
        X509Certificate cert = files.check();
        PrivateKey key = files.privateKey();
        try {
            // an in-memory store: the key never leaves this process; the password only satisfies the API
            char[] password = new char[0];
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("lifeboat", key, password, new Certificate[] {cert});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
            kmf.init(keys, password);

            TrustManagerFactory tmf = trusting(files.caCertificates());

            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), new SecureRandom());
            return new Configured(ctx, server, requireClientCert);
        } catch (GeneralSecurityException | IOException e) {
            throw new PkiException("cannot set up TLS with " + files + ": " + e.getMessage(), e);
        }
    }

    /** An SSLContext whose defaults, engines and server sockets all carry our protocols and client-certificate rule. */
    private static final class Configured extends SSLContext {
        Configured(SSLContext delegate, boolean server, boolean requireClientCert) {
            super(new Spi(delegate, server, requireClientCert), delegate.getProvider(), delegate.getProtocol());
        }
    }

    private static final class Spi extends SSLContextSpi {
        private final SSLContext delegate;
        private final boolean server;
        private final boolean requireClientCert;

        Spi(SSLContext delegate, boolean server, boolean requireClientCert) {
            this.delegate = delegate;
            this.server = server;
            this.requireClientCert = requireClientCert;
        }

        SSLParameters params() {
            SSLParameters p = delegate.getDefaultSSLParameters();
            p.setProtocols(PROTOCOLS.clone());
            if (requireClientCert) {
                p.setNeedClientAuth(true);
            } else if (server) {
                // asked for but optional: a client with a certificate is identified (and refused if another CA's)
                p.setWantClientAuth(true);
            }
            return p;
        }

        @Override
        protected void engineInit(KeyManager[] km, TrustManager[] tm, SecureRandom sr) throws KeyManagementException {
            throw new KeyManagementException(
                    "this SSLContext is already initialised with the Lifeboat CA and certificate");
        }

        @Override
        protected SSLSocketFactory engineGetSocketFactory() {
            return delegate.getSocketFactory();
        }

        @Override
        protected SSLServerSocketFactory engineGetServerSocketFactory() {
            return new ServerSockets(delegate.getServerSocketFactory(), this);
        }

        @Override
        protected SSLEngine engineCreateSSLEngine() {
            SSLEngine e = delegate.createSSLEngine();
            e.setSSLParameters(params());
            return e;
        }

        @Override
        protected SSLEngine engineCreateSSLEngine(String host, int port) {
            SSLEngine e = delegate.createSSLEngine(host, port);
            e.setSSLParameters(params());
            return e;
        }

        @Override
        protected SSLSessionContext engineGetServerSessionContext() {
            return delegate.getServerSessionContext();
        }

        @Override
        protected SSLSessionContext engineGetClientSessionContext() {
            return delegate.getClientSessionContext();
        }

        @Override
        protected SSLParameters engineGetDefaultSSLParameters() {
            return params();
        }

        @Override
        protected SSLParameters engineGetSupportedSSLParameters() {
            return delegate.getSupportedSSLParameters();
        }
    }

    private static final class ServerSockets extends SSLServerSocketFactory {
        private final SSLServerSocketFactory delegate;
        private final Spi spi;

        ServerSockets(SSLServerSocketFactory delegate, Spi spi) {
            this.delegate = delegate;
            this.spi = spi;
        }

        private ServerSocket configure(ServerSocket s) {
            ((SSLServerSocket) s).setSSLParameters(spi.params());
            return s;
        }

        @Override
        public ServerSocket createServerSocket() throws IOException {
            return configure(delegate.createServerSocket());
        }

        @Override
        public ServerSocket createServerSocket(int port) throws IOException {
            return configure(delegate.createServerSocket(port));
        }

        @Override
        public ServerSocket createServerSocket(int port, int backlog) throws IOException {
            return configure(delegate.createServerSocket(port, backlog));
        }

        @Override
        public ServerSocket createServerSocket(int port, int backlog, InetAddress address) throws IOException {
            return configure(delegate.createServerSocket(port, backlog, address));
        }

        @Override
        public String[] getDefaultCipherSuites() {
            return delegate.getDefaultCipherSuites();
        }

        @Override
        public String[] getSupportedCipherSuites() {
            return delegate.getSupportedCipherSuites();
        }
    }
}
