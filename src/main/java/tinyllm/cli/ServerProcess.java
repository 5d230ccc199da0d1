package tinyllm.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import tinyllm.TinyLlmException;

/**
 * {@code tinyllm serve} in a child JVM started with this JVM's own flags, on a free loopback port: what
 * {@code bench serve} measures, so that the server runs as users run it. With the load client in the server's
 * JVM the engine ran slower (one stream 42-47 tokens/s against 50-60 with the server in a process of its own,
 * the server's own step metric 22.5 ms against 16.6; README, "Serving").
 *
 * <p>The child's output goes to a file, read once it has exited: a thread reading the pipe of a process that exits
 * can lose its last lines (the JDK closes the pipe under the reader: "Stream closed"), and those are the lines
 * that say why it exited.
 */
final class ServerProcess implements AutoCloseable {
    private final Process process;
    private final Path log;
    private final Thread killOnExit;
    /** The server's base URL, e.g. http://127.0.0.1:40123. */
    final URI url;

    private ServerProcess(List<String> serveArguments, long readySeconds) {
        int port = freePort();
        url = URI.create("http://127.0.0.1:" + port);
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String flag : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!flag.startsWith("-agentlib:jdwp")) command.add(flag); // a debugger's port can be taken once
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "serve",
                "--host", "127.0.0.1", "--port", String.valueOf(port),
                "--exit-with", String.valueOf(ProcessHandle.current().pid()))); // even if this JVM is killed outright
        command.addAll(serveArguments);
        try {
            log = Files.createTempFile("tinyllm-serve-", ".log");
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
            // Their options are in this JVM's input arguments above already: inherited too, the child would apply
            // them twice (a debugger's agent twice on one port, past the filter above).
            builder.environment().keySet().removeAll(List.of("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"));
            process = builder.start();
        } catch (IOException e) {
            deleteLog();
            throw new TinyLlmException("cannot start the server process: " + e.getMessage(), e);
        }
        killOnExit = new Thread(process::destroyForcibly, "tinyllm-server-process-kill");
        Runtime.getRuntime().addShutdownHook(killOnExit);
        try {
            awaitHealth(readySeconds);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Starts {@code tinyllm serve ARGUMENTS --host 127.0.0.1 --port P} and waits until its /health answers 200. */
    static ServerProcess start(List<String> serveArguments, long readySeconds) {
        return new ServerProcess(serveArguments, readySeconds);
    }

    /** A port nobody listens on now: the child binds it a moment later (serve says so if someone took it meanwhile). */
    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new TinyLlmException("cannot find a free loopback port: " + e.getMessage(), e);
        }
    }

    /** Polls /health until 200 (serve answers 503 while its kernels compile), the child's exit, or the deadline. */
    private void awaitHealth(long readySeconds) {
        HttpRequest health = HttpRequest.newBuilder(url.resolve("/health")).timeout(Duration.ofSeconds(5)).build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(readySeconds);
        try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            while (true) {
                if (process.waitFor(100, TimeUnit.MILLISECONDS)) {
                    throw new TinyLlmException("the server process exited before it was ready: " + lastWords());
                }
                try {
                    if (client.send(health, HttpResponse.BodyHandlers.discarding()).statusCode() == 200) return;
                } catch (IOException notYet) {
                    // not listening yet
                }
                if (System.nanoTime() > deadline) {
                    throw new TinyLlmException("the server process was not ready after " + readySeconds + " s; it last said: " + lastWords());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TinyLlmException("interrupted while the server process started");
        }
    }

    /** The server's own last words, its one-line error if it printed one (without the JDK's incubator warning). */
    String lastWords() {
        List<String> lines;
        try {
            lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(its output cannot be read: " + e.getMessage() + ")";
        }
        String said = "(nothing)";
        for (String line : lines) {
            if (line.startsWith("error: ")) return line.substring("error: ".length());
            if (!line.isBlank() && !line.startsWith("WARNING: Using incubator modules")) said = line;
        }
        return said;
    }

    /** Stops the server as a user would (SIGTERM: it drains and exits), forcibly after 30 s. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(killOnExit);
        } catch (IllegalStateException e) {
            // already shutting down: the hook runs, harmlessly
        }
        deleteLog();
    }

    private void deleteLog() {
        try {
            if (log != null) Files.deleteIfExists(log);
        } catch (IOException e) {
            // a temporary file left behind
        }
    }
}
