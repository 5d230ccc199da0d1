package tinyllm.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import tinyllm.TinyLlmException;
import tinyllm.serve.LoadBench;

/** {@code tinyllm bench serve}: load on the HTTP server from 1, 4 and 16 concurrent streams. */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measure the server under 1, 4 and 16 concurrent streaming clients.",
                "Starts `tinyllm serve` as a process of its own on a free loopback port",
                "(or drives --url), warms it up, then for each level sends one request per client",
                "(a short prompt, 128 new tokens) and prints aggregate tokens/s, its",
                "ratio to one stream, time to first token and inter-token latency."},
        footer = {"", "Example:", "  tinyllm synthetic --shape 124M && tinyllm bench serve --model weights/synthetic-124M.bin"})
final class ServeBenchCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "FILE", defaultValue = GenerateCommand.DEFAULT_MODEL,
            description = "Checkpoint to serve (default: ${DEFAULT-VALUE}); ignored with --url.")
    Path model;

    @Mixin
    MappingOption mapping = new MappingOption();

    @Option(names = "--url", paramLabel = "URL", description = "Drive a server already running, e.g. http://127.0.0.1:8000.")
    URI url;

    @Option(names = "--clients", paramLabel = "N", split = ",", defaultValue = "1,4,16",
            description = "Concurrent streams of each level (default: ${DEFAULT-VALUE}).")
    List<Integer> clients;

    @Option(names = "--tokens", paramLabel = "N", defaultValue = "128", description = "New tokens per request (default: ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "1",
            description = "Measure every level N times in turn and also print the medians; each round's ratios are to its own"
                    + " one stream, minutes apart at most, as a noisy host needs (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Mixin
    ThreadsOption threads = new ThreadsOption();

    @Option(names = "--timeout", paramLabel = "S", defaultValue = "600", description = "Seconds one request may take (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--json", paramLabel = "FILE", defaultValue = "target/bench/serve.json",
            description = "Where to write the figures as JSON (default: ${DEFAULT-VALUE}).")
    Path json;

    private final PrintStream out;

    ServeBenchCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() throws InterruptedException {
        if (tokens < 1 || rounds < 1 || clients.stream().anyMatch(n -> n < 1)) {
            throw new TinyLlmException("--tokens, --rounds and every --clients level must be at least 1");
        }
        int most = clients.stream().mapToInt(Integer::intValue).max().orElse(1);
        if (url != null) {
            if (!TinyLlmException.isHttpUrl(url)) {
                throw new TinyLlmException("--url must be an absolute http(s) URL such as http://127.0.0.1:8000, got '" + url + "'");
            }
            return bench(url, name(url));
        }
        if (!Files.exists(model)) {
            throw new TinyLlmException("no model at " + model + ": pass --model FILE (./tinyllm synthetic --shape 124M writes one)");
        }
        List<String> serve = new ArrayList<>(List.of("--model", model.toString(),
                "--max-batch", String.valueOf(most), "--max-queue", String.valueOf(Math.max(64, most)),
                "--threads", String.valueOf(threads.count()),
                "--drain-seconds", "1")); // the bench owns this server: on a failure, no 30 s wait for its streams
        if (!mapping.map()) serve.add("--no-mmap");
        out.printf("bench serve: starting `tinyllm serve` on a free loopback port (a process of its own) ...%n");
        try (ServerProcess server = ServerProcess.start(serve, 120)) {
            String name = name(server.url);
            out.printf("bench serve: %s, %d threads, server at %s%n", name, threads.count(), server.url);
            try {
                return bench(server.url, name);
            } catch (TinyLlmException e) {
                throw new TinyLlmException(e.getMessage() + " (the server last said: " + server.lastWords() + ")", e);
            }
        }
    }

    private int bench(URI base, String name) throws InterruptedException {
        LoadBench bench = new LoadBench(base, name, Duration.ofSeconds(timeoutSeconds));
        // Every level once, short: each row count a step can have meets C2-compiled kernels before it is measured
        // (warming with the largest level alone left the one-stream figures with JIT stalls of 70 ms).
        out.printf("warming up: %s streams of 32 tokens ...%n", clients);
        for (int n : clients) {
            bench.run(n, 32);
        }
        out.printf("then %s concurrent streams of %d tokens each%s:%n", clients, tokens, rounds > 1 ? ", " + rounds + " rounds" : "");
        List<List<LoadBench.Level>> measured = new ArrayList<>();
        LoadBench.printHeader(out);
        for (int r = 0; r < rounds; r++) {
            List<LoadBench.Level> levels = new ArrayList<>();
            for (int n : clients) {
                levels.add(bench.run(n, tokens));
                LoadBench.printRow(levels.getLast(), levels.getFirst(), out);
            }
            measured.add(levels);
        }
        if (rounds > 1) {
            printMedians(measured);
        }
        write(measured);
        return 0;
    }

    /**
     * Per level, the median over the rounds of its tokens/s and of its ratio to the same round's first level (with
     * the range): the host's memory speed changes from minute to minute here, and a ratio of two levels measured
     * in different minutes would show that change rather than the batching.
     */
    private void printMedians(List<List<LoadBench.Level>> measured) {
        out.printf("medians of %d rounds (min-max):%n", measured.size());
        for (int i = 0; i < clients.size(); i++) {
            int level = i;
            double[] speed = measured.stream().mapToDouble(round -> round.get(level).tokensPerSecond()).sorted().toArray();
            double[] ratio = measured.stream().mapToDouble(round -> round.get(level).tokensPerSecond() / round.getFirst().tokensPerSecond())
                    .sorted().toArray();
            out.printf(java.util.Locale.ROOT, "%7d streams  %8.1f tokens/s (%.1f-%.1f)  %5.2fx the first level (%.2f-%.2f)%n",
                    clients.get(i), median(speed), speed[0], speed[speed.length - 1], median(ratio), ratio[0], ratio[ratio.length - 1]);
        }
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** The model a running server serves, from its /v1/models. */
    private static String name(URI base) {
        try (var client = java.net.http.HttpClient.newHttpClient()) {
            var response = client.send(
                    java.net.http.HttpRequest.newBuilder(base.resolve("/v1/models")).timeout(Duration.ofSeconds(10)).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            return new ObjectMapper().readTree(response.body()).path("data").path(0).path("id").asText();
        } catch (IOException e) {
            throw new TinyLlmException("cannot reach " + base + ": " + TinyLlmException.networkReason(base, e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TinyLlmException("interrupted");
        }
    }

    private void write(List<List<LoadBench.Level>> measured) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("new_tokens_per_request", tokens);
        report.put("levels", measured.getFirst());
        if (measured.size() > 1) report.put("rounds", measured);
        try {
            if (json.getParent() != null) Files.createDirectories(json.getParent());
            Files.writeString(json, new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(report));
            out.println("figures written to " + json);
        } catch (IOException e) {
            throw new TinyLlmException("cannot write " + json + ": " + e.getMessage(), e);
        }
    }
}
