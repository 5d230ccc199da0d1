package tinyllm.serve;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import tinyllm.Fixtures;
import tinyllm.api.Model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scheduler under pressure: a full queue answers 429 at once, a client gone mid-stream frees its slot while the
 * others go on, and a shutdown refuses new requests with 503 while it lets the running ones finish. The tests hold
 * the engine's steps with a semaphore, so each situation is made, not hoped for. On micro.bin (context 64).
 */
@Timeout(60)
class SchedulingTest {
    static final String LONG_STREAM = "{\"prompt\": [10, 200, 257], \"max_tokens\": 60, \"temperature\": 0, \"stream\": true}";

    @Test
    void aFullQueueAnswers429AtOnce() throws Exception {
        try (Model model = Http.open(Fixtures.path("micro.bin")); ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            CompletionServer server = Http.serve(model, 1, 1, 8, 1 << 20);
            try {
                Semaphore steps = new Semaphore(0);
                server.scheduler().paceSteps(steps);
                Future<Http.Stream> running = clients.submit(() -> Http.stream(server, LONG_STREAM));
                waitFor(() -> server.scheduler().running() == 1);
                Future<Http.Stream> queued = clients.submit(() -> Http.stream(server, LONG_STREAM));
                waitFor(() -> server.scheduler().queued() == 1);

                long start = System.nanoTime();
                Http.Reply refused = Http.post(server, "{\"prompt\": [1], \"max_tokens\": 1}");
                assertEquals(429, refused.status(), refused.json().toString());
                assertEquals("queue_full", refused.json().path("error").path("code").asText());
                assertTrue(System.nanoTime() - start < 5_000_000_000L, "refused without waiting for a slot");

                steps.release(Integer.MAX_VALUE / 2);
                assertEquals("length", running.get().finishReason());
                assertEquals("length", queued.get().finishReason());
                assertTrue(Http.get(server, "/metrics").body().contains("tinyllm_requests_total{status=\"429\"} 1.0"));
            } finally {
                server.close();
            }
        }
    }

    @Test
    void aClientThatDisconnectsMidStreamFreesItsSlotAndTheOthersGoOn() throws Exception {
        try (Model model = Http.open(Fixtures.path("micro.bin")); ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            CompletionServer server = Http.serve(model, 2, 2, 8, 1 << 20);
            try {
                Semaphore steps = new Semaphore(0);
                server.scheduler().paceSteps(steps);
                Future<Http.Stream> other = clients.submit(() -> Http.stream(server, LONG_STREAM));
                waitFor(() -> server.scheduler().running() == 1);
                try (Socket socket = new Socket("127.0.0.1", server.port())) {
                    byte[] body = LONG_STREAM.getBytes(StandardCharsets.UTF_8);
                    OutputStream out = socket.getOutputStream();
                    out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                            + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.write(body);
                    out.flush();
                    waitFor(() -> server.scheduler().running() + server.scheduler().queued() == 2);
                    steps.release(3);
                    BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
                    for (String line; (line = in.readLine()) != null && !line.startsWith("data: "); ) {
                        // the status line and headers
                    }
                }
                // Gone: the engine must retire it within a few steps (a write fails once the peer's reset is back),
                // long before its 60 tokens, while the other stream keeps getting tokens.
                waitFor(() -> server.scheduler().running() == 2);
                int stepsAfterClose = 0;
                while (server.scheduler().running() == 2 && stepsAfterClose < 30) {
                    steps.release(1);
                    stepsAfterClose++;
                    Thread.sleep(20);
                }
                assertEquals(1, server.scheduler().running(), "the slot was freed after " + stepsAfterClose + " steps");
                assertTrue(stepsAfterClose < 30);
                steps.release(Integer.MAX_VALUE / 2);
                Http.Stream s = other.get();
                assertEquals("length", s.finishReason());
                assertEquals(60 + 1, s.chunks().size(), "the other stream got all its tokens");
                waitFor(() -> server.scheduler().running() == 0);
            } finally {
                server.close();
            }
        }
    }

    @Test
    void shutdownRefusesNewRequestsWith503AndLetsRunningOnesFinish() throws Exception {
        try (Model model = Http.open(Fixtures.path("micro.bin")); ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            CompletionServer server = Http.serve(model, 2, 2, 8, 1 << 20);
            Semaphore steps = new Semaphore(0);
            server.scheduler().paceSteps(steps);
            Future<Http.Stream> running = clients.submit(() -> Http.stream(server, LONG_STREAM));
            waitFor(() -> server.scheduler().running() == 1);
            Future<Boolean> shutdown = clients.submit(() -> server.shutdown(Duration.ofSeconds(30)));
            waitFor(() -> !server.scheduler().accepting());

            Http.Reply refused = Http.post(server, "{\"prompt\": [1], \"max_tokens\": 1}");
            assertEquals(503, refused.status(), refused.json().toString());
            assertEquals("shutting_down", refused.json().path("error").path("code").asText());
            assertEquals(503, Http.get(server, "/health").statusCode());

            steps.release(Integer.MAX_VALUE / 2);
            Http.Stream s = running.get();
            assertEquals("length", s.finishReason(), "the running request finished");
            assertEquals(60 + 1, s.chunks().size());
            assertTrue(shutdown.get(), "drained within the bound");
        }
    }

    static void waitFor(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting");
            Thread.sleep(2);
        }
    }
}
