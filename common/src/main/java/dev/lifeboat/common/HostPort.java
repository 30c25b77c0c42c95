package dev.lifeboat.common;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/** A {@code host:port} address ({@code [::1]:7444} for IPv6 literals), as controller and agent configs and {@code
 * --agent} give them. */
public record HostPort(String host, int port) {
    public HostPort {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("an address needs a host");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is out of range 0-65535");
        }
    }

    /** Parses {@code host:port}; {@code what} names the setting in the error message. */
    public static HostPort parse(String text, String what) {
        String s = text == null ? "" : text.strip();
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw new IllegalArgumentException(what + ": expected host:port (e.g. 127.0.0.1:7444), got '" + text + "'");
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw new IllegalArgumentException(
                    what + ": write IPv6 addresses in brackets, e.g. [::1]:7444, got '" + text + "'");
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + ": port must be a number, got '" + text + "'");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(what + ": port must be 0-65535 (0: any free port), got '" + text + "'");
        }
        return new HostPort(host, port);
    }

    /** True when every address the host resolves to is a loopback address. */
    public boolean isLoopback() {
        try {
            InetAddress[] all = InetAddress.getAllByName(host);
            for (InetAddress a : all) {
                if (!a.isLoopbackAddress()) {
                    return false;
                }
            }
            return all.length > 0;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    public InetSocketAddress socketAddress() {
        return new InetSocketAddress(host, port);
    }

    /** The form gRPC channel targets take. */
    public String target() {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    @Override
    public String toString() {
        return target();
    }
}
