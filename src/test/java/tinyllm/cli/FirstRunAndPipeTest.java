package tinyllm.cli;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.Fixtures;
import tinyllm.convert.HuggingFaceFixture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A first run without weights (ask, download, convert, generate), and output that streams through a real pipe. */
class FirstRunAndPipeTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    Run generate(Terminal terminal, Path defaultModel, URI hub, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                terminal, defaultModel, hub, null);
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static Terminal answering(String answer) {
        return new Terminal(false, new BufferedReader(new StringReader(answer)));
    }

    /** A hub on loopback serving micro.bin as openai-community/gpt2; each file served is added to {@code requests}. */
    HttpServer hub(List<String> requests) throws IOException {
        Path hf = dir.resolve("served");
        HuggingFaceFixture.writeFolder(hf, Fixtures.path("micro.bin"));
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        for (String file : new String[] {"config.json", "model.safetensors"}) {
            server.createContext("/openai-community/gpt2/resolve/main/" + file, exchange -> {
                requests.add(file);
                byte[] body = Files.readAllBytes(hf.resolve(file));
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream o = exchange.getResponseBody()) {
                    o.write(body);
                }
            });
        }
        server.start();
        return server;
    }

    /** {@code download gpt2 --dtype q8}: fetched, converted and named as the q8 file of the released shape. */
    @Test
    void downloadWithDtypeQ8WritesTheQ8Checkpoint() throws Exception {
        List<String> requests = new ArrayList<>();
        HttpServer server = hub(requests);
        try {
            URI hub = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
            Path written = DownloadCommand.fetch("gpt2", tinyllm.model.DType.Q8, dir.resolve("weights"), hub,
                    new PrintStream(OutputStream.nullOutputStream()), false);
            assertEquals(dir.resolve("weights").resolve("gpt2-124M-q8.bin"), written);
            assertArrayEquals(Files.readAllBytes(Fixtures.q8Micro(dir)), Files.readAllBytes(written),
                    "the same bytes as micro.bin converted to q8");
            Run run = generate(Terminal.PLAIN, written, null, "generate", "--model", written.toString(), "--tokens", "10,200", "--max-length", "3");
            assertEquals(0, run.code(), run.err());
        } finally {
            server.stop(0);
        }
    }

    @Test
    void aMissingDefaultModelIsOfferedDownloadedConvertedAndRun() throws Exception {
        List<String> requests = new ArrayList<>();
        HttpServer server = hub(requests);
        try {
            URI hub = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
            Path model = dir.resolve("weights").resolve("gpt2-124M.bin");
            String[] args = {"generate", "--tokens", "10,200,257,499", "--max-length", "5", "--show-steps"};

            Run declined = generate(answering("n\n"), model, hub, args);
            assertEquals(1, declined.code());
            assertTrue(declined.err().contains("[Y/n]") && declined.err().contains("error: no model at"), declined.err());
            assertEquals(List.of(), requests, "nothing downloaded without a yes");

            Run notAsked = generate(Terminal.PLAIN, model, hub, args);
            assertEquals(1, notAsked.code());
            assertFalse(notAsked.err().contains("[Y/n]"), "no question when nobody can answer");
            assertTrue(notAsked.err().contains("./tinyllm download gpt2"), notAsked.err());

            Run yes = generate(answering("\n"), model, hub, args);
            assertEquals(0, yes.code(), yes.err());
            assertEquals(List.of("config.json", "model.safetensors"), requests);
            assertArrayEquals(Files.readAllBytes(Fixtures.path("micro.bin")), Files.readAllBytes(model), "converted back to the llm.c file");
            assertTrue(yes.out().contains("Step 5: Generated token"), yes.out());

            Run again = generate(answering(""), model, hub, args);
            assertEquals(0, again.code(), again.err());
            assertFalse(again.err().contains("[Y/n]"), "asked once, then the model is there");
        } finally {
            server.stop(0);
        }
    }

    /**
     * The CLI as its own process, stdout a pipe: the step lines (and, without --show-steps, the text) arrive
     * while it still runs. It is held at its end by --stats-json into a FIFO nobody has opened yet, so
     * "still running" does not depend on timing; had it buffered its output until exit, nothing would arrive.
     */
    @Test
    void stepsAndTextStreamThroughAPipeBeforeTheProcessEnds() throws Exception {
        for (boolean steps : new boolean[] {true, false}) {
            Path fifo = dir.resolve("stats-" + steps + ".json");
            assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
            String java = ProcessHandle.current().info().command().orElseThrow();
            List<String> command = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                    "-cp", System.getProperty("java.class.path"), "tinyllm.cli.Main", "generate", "--model", Fixtures.path("micro.bin").toString(),
                    "--tokens", "10,200,257,499", "--max-length", "8", "--ignore-eot", "--stats-json", fifo.toString()));
            if (steps) command.add("--show-steps");
            Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            BlockingQueue<String> lines = new LinkedBlockingQueue<>();
            Thread.ofVirtual().start(() -> new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))
                    .lines().forEach(lines::add));
            String expected = steps ? "Step 1: Generated token " : "Generated: ";
            String line;
            do {
                line = lines.poll(120, TimeUnit.SECONDS);
                assertNotNull(line, "no '" + expected + "' line through the pipe");
            } while (!line.startsWith(expected));
            if (!steps) assertTrue(line.length() > expected.length(), "the text itself came: " + line);
            assertTrue(process.isAlive(), "the output came before the process ended");
            Files.readString(fifo); // let it write its stats and end
            assertTrue(process.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, process.exitValue());
        }
    }
}
