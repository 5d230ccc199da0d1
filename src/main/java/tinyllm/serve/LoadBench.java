package tinyllm.serve;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.ObjectMapper;

import tinyllm.TinyLlmException;

/**
 * Drives a completions server over loopback with N concurrent streaming clients, one request each, and measures what
 * they see: aggregate new tokens per second, time to first token, and the gaps between tokens of one stream.
 */
public final class LoadBench {
    /** What one level of concurrency gave. Times in milliseconds. */
    public record Level(int clients, long tokens, double seconds, double tokensPerSecond,
                        double ttftP50, double ttftP99, double itlP50, double itlP99) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI completions;
    private final String model;
    private final Duration timeout;
    private final HttpClient client;

    /** @param base the server, e.g. http://127.0.0.1:8000; every request gives up after {@code timeout} */
    public LoadBench(URI base, String model, Duration timeout) {
        this.completions = base.resolve("/v1/completions");
        this.model = model;
        this.timeout = timeout;
        this.client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    }

    /** {@code clients} streams at once, each a short prompt and {@code newTokens} new tokens (end-of-text ignored). */
    public Level run(int clients, int newTokens) throws InterruptedException {
        long start = System.nanoTime();
        List<Future<long[]>> streams = new ArrayList<>();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int c = 0; c < clients; c++) {
                int id = c;
                streams.add(threads.submit(() -> stream("Client " + id + " asks: what happened to the quick brown fox after it jumped?", newTokens)));
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        long tokens = 0;
        List<Double> ttft = new ArrayList<>(), itl = new ArrayList<>();
        for (Future<long[]> f : streams) {
            long[] arrivals;
            try {
                arrivals = f.get();
            } catch (ExecutionException e) {
                throw new TinyLlmException("a client failed: " + e.getCause().getMessage(), e.getCause());
            }
            // arrivals[0] = send time, then one arrival per token
            tokens += arrivals.length - 1;
            if (arrivals.length > 1) ttft.add((arrivals[1] - arrivals[0]) / 1e6);
            for (int i = 2; i < arrivals.length; i++) itl.add((arrivals[i] - arrivals[i - 1]) / 1e6);
        }
        return new Level(clients, tokens, seconds, tokens / seconds,
                percentile(ttft, 50), percentile(ttft, 99), percentile(itl, 50), percentile(itl, 99));
    }

    /** One streaming request; returns its send time and the arrival time of each token's event (nanoTime). */
    private long[] stream(String prompt, int newTokens) throws IOException, InterruptedException {
        String body = JSON.writeValueAsString(Map.of("model", model, "prompt", prompt, "max_tokens", newTokens,
                "temperature", 0, "stream", true, "ignore_eos", true));
        HttpRequest request = HttpRequest.newBuilder(completions).timeout(timeout).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long sent = System.nanoTime();
        HttpResponse<Stream<String>> response = client.send(request, HttpResponse.BodyHandlers.ofLines());
        if (response.statusCode() != 200) {
            throw new IOException("HTTP " + response.statusCode() + ": " + String.join("", response.body().toList()));
        }
        long[] arrivals = new long[newTokens + 1];
        arrivals[0] = sent;
        int n = 1;
        for (Iterator<String> lines = response.body().iterator(); lines.hasNext(); ) {
            String line = lines.next();
            if (line.startsWith("data: {\"error\"")) {
                throw new IOException("the server ended the stream with " + line.substring("data: ".length()));
            }
            // Token events only: the finish event has "finish_reason":"length", [DONE] ends the stream.
            if (line.startsWith("data: {") && line.contains("\"finish_reason\":null") && n <= newTokens) {
                arrivals[n++] = System.nanoTime();
            }
        }
        return Arrays.copyOf(arrivals, n);
    }

    private static double percentile(List<Double> values, int p) {
        if (values.isEmpty()) return Double.NaN;
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, rank - 1)];
    }

    /** The table's header; then {@link #printRow} for each level as it completes. */
    public static void printHeader(PrintStream out) {
        out.println("streams  tokens  seconds  tokens/s  vs first  TTFT p50 ms  TTFT p99 ms  ITL p50 ms  ITL p99 ms");
    }

    /** One level, its aggregate speed also as a multiple of the first level's (N = 1). */
    public static void printRow(Level l, Level first, PrintStream out) {
        out.printf(Locale.ROOT, "%7d  %6d  %7.1f  %8.1f  %7.2fx  %11.0f  %11.0f  %10.1f  %10.1f%n",
                l.clients(), l.tokens(), l.seconds(), l.tokensPerSecond(), l.tokensPerSecond() / first.tokensPerSecond(),
                l.ttftP50(), l.ttftP99(), l.itlP50(), l.itlP99());
    }
}
