package io.weightstream.stack;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/** Loopback ports: every server of the local stack listens on 127.0.0.1 only. */
final class Ports {
    static final String HOST = "127.0.0.1";

    private Ports() {
    }

    /** A port that was free a moment ago (the server may still lose a race for it: callers retry). */
    static int free() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new StackException("no free port on " + HOST + ": " + e.getMessage(), e);
        }
    }

    /** Whether nothing listens on {@code port} of the loopback address now. */
    static boolean isFree(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true); // what the servers do: ports in TIME_WAIT count as free
            s.bind(new InetSocketAddress(HOST, port), 1);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Whether a server accepts connections on {@code port} of the loopback address. */
    static boolean answers(int port, int timeoutMillis) {
        if (port <= 0) {
            return false;
        }
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(HOST, port), timeoutMillis);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    static void check(String what, int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(what + " must be 0 (any free port) or 1..65535, got " + port);
        }
    }
}
