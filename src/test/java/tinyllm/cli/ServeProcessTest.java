package tinyllm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.ChildJvm;
import tinyllm.Fixtures;

/**
 * {@code tinyllm serve} and {@code tinyllm bench serve} as users run them: the server a process of its own,
 * driven over loopback. The in-process server tests (tinyllm.serve) cover the endpoints one by one; these cover
 * what only the command does: the warm-up's 503 before the 200, a completion, and SIGTERM draining to exit 0.
 */
class ServeProcessTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @TempDir
    Path dir;

    /**
     * /health answers 503 warming_up from the server's first answer (the port opens while the kernels still
     * compile, which takes a second or more: the warm-up's 500 rounds need C2) until the warm-up is done, then
     * 200; a completion then works; SIGTERM stops it with exit code 0.
     */
    @Test
    void healthIsWarmingUpThenReadyAndSigtermExitsZero() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        // Output to a file, read once the process has exited: a thread reading its pipe can lose the last lines
        // (the JDK closes the pipe under the reader when the process exits), and the last lines are under test.
        Path log = dir.resolve("serve.log");
        Process process = new ProcessBuilder(javaCommand("serve", "--model", Fixtures.path("micro.bin").toString(),
                "--port", String.valueOf(port), "--threads", "2")).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            URI base = URI.create("http://127.0.0.1:" + port);
            List<Integer> statuses = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (statuses.isEmpty() || statuses.getLast() != 200) {
                assertTrue(System.nanoTime() < deadline, "no 200 from /health within 120 s: " + statuses + " " + Files.readString(log));
                assertTrue(process.isAlive(), "serve exited: " + Files.readString(log));
                try {
                    HttpResponse<String> health = get(base.resolve("/health"));
                    if (health.statusCode() == 503) {
                        assertEquals("warming_up", JSON.readTree(health.body()).path("error").path("code").asText(), health.body());
                    }
                    if (statuses.isEmpty() || statuses.getLast() != health.statusCode()) statuses.add(health.statusCode());
                } catch (IOException notYet) {
                    if (!statuses.isEmpty()) throw notYet; // once it answers, it answers
                }
                Thread.sleep(10);
            }
            assertEquals(List.of(503, 200), statuses, "/health: warming up, then ready, nothing else");

            HttpResponse<String> reply = CLIENT.send(HttpRequest.newBuilder(base.resolve("/v1/completions"))
                    .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\": [10, 200, 257], \"max_tokens\": 4, \"temperature\": 0}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, reply.statusCode(), reply.body());
            JsonNode completion = JSON.readTree(reply.body());
            assertEquals(4, completion.path("usage").path("completion_tokens").asInt(), reply.body());
            assertEquals("length", completion.path("choices").path(0).path("finish_reason").asText(), reply.body());

            process.destroy(); // SIGTERM
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "serve did not stop on SIGTERM: " + Files.readString(log));
            assertEquals(0, process.exitValue(), "exit code after SIGTERM: " + Files.readString(log));
            List<String> said = Files.readAllLines(log).stream().filter(line -> line.startsWith("tinyllm serve: ")).toList();
            assertEquals("tinyllm serve: stopped", said.getLast(), said.toString());
            assertTrue(said.get(said.size() - 2).startsWith("tinyllm serve: shutting down: no new requests"), said.toString());
        } finally {
            process.destroyForcibly();
        }
    }

    /**
     * bench serve starts serve as its own process, drives it, prints a row per level and stops it (on vocab.bin,
     * whose vocabulary is GPT-2's, since the bench's prompt is text).
     */
    @Test
    void benchServeDrivesAServerProcessOfItsOwn() throws IOException {
        Path json = dir.resolve("serve.json");
        CliRun run = CliRun.of("bench", "serve", "--model", Fixtures.path("vocab.bin").toString(), "--clients", "1,2",
                "--tokens", "4", "--threads", "2", "--rounds", "2", "--json", json.toString());
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("server at http://127.0.0.1:"), run.out());
        JsonNode report = JSON.readTree(Files.readString(json)), levels = report.path("levels");
        assertEquals(2, levels.size(), levels.toString());
        assertEquals(2 * 4, levels.path(1).path("tokens").asInt(), levels.toString());
        // Two rounds of both levels, each round's ratios to its own one stream, and the medians over them.
        assertEquals(2, report.path("rounds").size(), report.toString());
        assertEquals(2 * 4, report.path("rounds").path(1).path(1).path("tokens").asInt(), report.toString());
        assertTrue(run.out().contains("medians of 2 rounds"), run.out());
        assertTrue(run.out().matches("(?s).*\\n +2 streams +[0-9.]+ tokens/s \\([0-9.]+-[0-9.]+\\) +[0-9.]+x the first level.*"), run.out());
    }

    /** A checkpoint serve refuses: bench serve says the server's own one-line reason, not a timeout. */
    @Test
    void benchServeSaysWhyItsServerDidNotStart() throws IOException {
        Path notAModel = Files.writeString(dir.resolve("not-a-model.bin"), "not a checkpoint at all, just text. ".repeat(100));
        CliRun run = CliRun.of("bench", "serve", "--model", notAModel.toString(), "--clients", "1", "--tokens", "4");
        assertEquals(1, run.exitCode(), run.out() + run.err());
        assertTrue(run.err().contains("the server process exited before it was ready: not an llm.c GPT-2 checkpoint"), run.err());
    }

    /** {@code tinyllm ARGS} in a JVM of its own (the project's ChildJvm: this java, the Vector API, the tests' class path). */
    static List<String> javaCommand(String... args) {
        List<String> command = ChildJvm.command("--enable-native-access=ALL-UNNAMED");
        command.add(Main.class.getName());
        command.addAll(List.of(args));
        return command;
    }

    private static HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
        return CLIENT.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }
}
