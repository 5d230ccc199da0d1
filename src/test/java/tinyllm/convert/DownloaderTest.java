package tinyllm.convert;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.TinyLlmException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The downloader against a local stand-in for the hub on 127.0.0.1: config.json served directly with a
 * git-blob ETag, model.safetensors redirected to a "CDN" path with its sha256 in X-Linked-Etag, as
 * huggingface.co does.
 */
class DownloaderTest {
    static final String MODEL = "gpt2";
    static final byte[] CONFIG = "{\"model_type\": \"gpt2\"}".getBytes(StandardCharsets.UTF_8);
    static final byte[] WEIGHTS = new byte[300_000];

    static {
        new SplittableRandom(3).nextBytes(WEIGHTS);
    }

    @TempDir
    Path dir;

    HttpServer server;
    String announcedSha256 = sha256(WEIGHTS);
    final List<String> ranges = new CopyOnWriteArrayList<>();
    final ByteArrayOutputStream log = new ByteArrayOutputStream();

    @BeforeEach
    void startHub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        String resolve = "/openai-community/" + MODEL + "/resolve/main/";
        server.createContext(resolve + "config.json", exchange -> {
            exchange.getResponseHeaders().add("ETag", "\"" + "ab".repeat(20) + "\"");
            send(exchange, 200, CONFIG, 0);
        });
        server.createContext(resolve + "model.safetensors", exchange -> {
            exchange.getResponseHeaders().add("Location", "/cdn/model.safetensors");
            exchange.getResponseHeaders().add("X-Linked-Etag", "\"" + announcedSha256 + "\"");
            send(exchange, 302, new byte[0], 0);
        });
        server.createContext("/cdn/model.safetensors", exchange -> {
            String range = exchange.getRequestHeaders().getFirst("Range");
            ranges.add(String.valueOf(range));
            if (range == null) {
                send(exchange, 200, WEIGHTS, 0);
            } else if (range.equals("bytes=" + WEIGHTS.length + "-")) {
                exchange.getResponseHeaders().add("Content-Range", "bytes */" + WEIGHTS.length);
                send(exchange, 416, new byte[0], 0);
            } else {
                int from = Integer.parseInt(range.replaceAll("bytes=(\\d+)-", "$1"));
                exchange.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (WEIGHTS.length - 1) + "/" + WEIGHTS.length);
                send(exchange, 206, WEIGHTS, from);
            }
        });
        server.start();
    }

    @AfterEach
    void stopHub() {
        server.stop(0);
    }

    static void send(HttpExchange exchange, int status, byte[] body, int from) throws IOException {
        exchange.sendResponseHeaders(status, body.length - from == 0 ? -1 : body.length - from);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body, from, body.length - from);
        }
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    Downloader downloader(URI hub) {
        return new Downloader(hub, new PrintStream(log, true, StandardCharsets.UTF_8), false);
    }

    URI hub() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    Path folder() {
        return dir.resolve("hf").resolve(MODEL);
    }

    void download(URI hub, String model) {
        downloader(hub).download(model, folder(), dir.resolve("gpt2-124M.bin"));
    }

    @Test
    void downloadsBothFilesFollowingTheRedirect() throws IOException {
        download(hub(), MODEL);
        assertArrayEquals(CONFIG, Files.readAllBytes(folder().resolve("config.json")));
        assertArrayEquals(WEIGHTS, Files.readAllBytes(folder().resolve("model.safetensors")));
        assertFalse(Files.exists(folder().resolve("model.safetensors.part")));
        assertEquals(List.of("null"), ranges, "one full request, no range");
    }

    @Test
    void resumesAPartialDownloadWithARangeRequest() throws IOException {
        Files.createDirectories(folder());
        Files.write(folder().resolve("model.safetensors.part"), Arrays.copyOf(WEIGHTS, 123_456));
        download(hub(), MODEL);
        assertEquals(List.of("bytes=123456-"), ranges);
        assertArrayEquals(WEIGHTS, Files.readAllBytes(folder().resolve("model.safetensors")));
        assertTrue(log.toString(StandardCharsets.UTF_8).contains("resuming at"), log.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aCompletePartLeftByAnInterruptedRunIsCheckedAndKept() throws IOException {
        Files.createDirectories(folder());
        Files.write(folder().resolve("model.safetensors.part"), WEIGHTS);
        download(hub(), MODEL);
        assertEquals(List.of("bytes=" + WEIGHTS.length + "-"), ranges, "answered 416: nothing left to send");
        assertArrayEquals(WEIGHTS, Files.readAllBytes(folder().resolve("model.safetensors")));
    }

    @Test
    void skipsFilesAlreadyDownloaded() throws IOException {
        download(hub(), MODEL);
        ranges.clear();
        download(hub(), MODEL);
        assertEquals(List.of(), ranges);
    }

    @Test
    void refusesAndDeletesAFileWhoseSha256DiffersFromTheHubs() {
        announcedSha256 = sha256(new byte[] {1, 2, 3});
        TinyLlmException e = assertThrows(TinyLlmException.class, () -> download(hub(), MODEL));
        assertTrue(e.getMessage().contains("has sha256 " + sha256(WEIGHTS) + ", the hub announced " + announcedSha256), e.getMessage());
        assertFalse(Files.exists(folder().resolve("model.safetensors")));
        assertFalse(Files.exists(folder().resolve("model.safetensors.part")));
    }

    @Test
    void httpErrorsGiveOneLineNamingTheRouteByHand() {
        TinyLlmException e = assertThrows(TinyLlmException.class, () -> download(hub(), "gpt2-medium"));
        assertOneLineByHand(e, "HTTP 404");
    }

    @Test
    void aRefusedConnectionGivesOneLineNamingTheRouteByHand() {
        URI closed = hub();
        server.stop(0);
        TinyLlmException e = assertThrows(TinyLlmException.class, () -> download(closed, MODEL));
        assertOneLineByHand(e, "cannot connect to 127.0.0.1");
    }

    void assertOneLineByHand(TinyLlmException e, String reason) {
        String message = e.getMessage();
        assertFalse(message.contains("\n"), message);
        assertTrue(message.contains(reason), message);
        assertTrue(message.contains("download config.json and model.safetensors from "), message);
        assertTrue(message.contains("and run: ./tinyllm convert " + folder() + " --out " + dir.resolve("gpt2-124M.bin")), message);
    }
}
