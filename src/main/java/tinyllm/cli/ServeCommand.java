package tinyllm.cli;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import sun.misc.Signal;

import tinyllm.TinyLlmException;
import tinyllm.api.Model;
import tinyllm.api.WarmUp;
import tinyllm.serve.CompletionServer;

/** {@code tinyllm serve}: an OpenAI-compatible completions server, all requests batched into one forward pass per step. */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Serve a model over HTTP with OpenAI's completions API.",
                "Running requests are batched: each engine step runs one forward pass",
                "for all of them. SIGTERM or Ctrl-C stops taking requests (503), lets",
                "running ones finish (see --drain-seconds) and exits 0."},
        footer = {"", "Example:", "  tinyllm serve --model weights/gpt2-124M.bin --port 8000",
                "  curl -s localhost:8000/v1/completions -H 'Content-Type: application/json' \\",
                "       -d '{\"prompt\": \"Once upon a time\", \"max_tokens\": 20, \"temperature\": 0}'"})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "FILE", defaultValue = GenerateCommand.DEFAULT_MODEL,
            description = "llm.c checkpoint to serve, fp32, bf16 or q8 (default: ${DEFAULT-VALUE}).")
    Path model;

    @Mixin
    MappingOption mapping = new MappingOption();

    @Option(names = "--host", paramLabel = "ADDRESS", defaultValue = "127.0.0.1",
            description = "Address to listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 for every interface).")
    String host;

    @Option(names = "--port", paramLabel = "N", defaultValue = "8000", description = "Port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
    int port;

    @Option(names = "--max-batch", paramLabel = "N", defaultValue = "16",
            description = "Requests running at once, each in its own KV-cache slot (default: ${DEFAULT-VALUE}).")
    int maxBatch;

    @Option(names = "--max-queue", paramLabel = "N", defaultValue = "64",
            description = "Requests waiting for a slot; beyond, HTTP 429 (default: ${DEFAULT-VALUE}).")
    int maxQueue;

    @Option(names = "--step-tokens", paramLabel = "N", defaultValue = "256",
            description = "Rows of one engine step: decode rows plus prompt chunks (default: ${DEFAULT-VALUE}).")
    int stepTokens;

    @Mixin
    ThreadsOption threads = new ThreadsOption();

    /** For a parent that starts the server (bench serve): a parent killed outright runs no hook to stop its child. */
    @Option(names = "--exit-with", paramLabel = "PID", hidden = true,
            description = "Shut down as on SIGTERM when process PID ends.")
    Long exitWith;

    @Option(names = "--drain-seconds", paramLabel = "S", defaultValue = "30",
            description = "On shutdown, how long running requests may take to finish (default: ${DEFAULT-VALUE}).")
    int drainSeconds;

    /**
     * Rounds of the tiny model's prompt and decode steps that mean compiled kernels: alone on the 2-core Zen 4 VM
     * the warm-up ran ~40 rounds in its first 0.9 s (interpreted, then C1) and ~4000 a second from 1.1 s on (C2),
     * so 500 are reached once C2 is done, ~1.2 s in. A slow machine stops waiting after {@link #WARM_UP_LIMIT}.
     */
    static final int WARM_UP_ROUNDS = 500;
    static final Duration WARM_UP_LIMIT = Duration.ofSeconds(15);

    private final PrintStream out;

    ServeCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() throws InterruptedException {
        if (model.equals(Path.of(GenerateCommand.DEFAULT_MODEL)) && !Files.exists(model)) {
            throw new TinyLlmException("no model at " + GenerateCommand.DEFAULT_MODEL + ": pass --model FILE "
                    + "(./tinyllm synthetic --shape 124M writes a random one)");
        }
        if (port < 0 || port > 65535) {
            throw new TinyLlmException("--port must be between 0 and 65535, got " + port);
        }
        if (drainSeconds < 0) {
            throw new TinyLlmException("--drain-seconds must be 0 or more, got " + drainSeconds);
        }
        int threadCount = threads.count();
        CompletionServer.Options options = new CompletionServer.Options(host, port, maxBatch, maxQueue,
                Math.max(stepTokens, maxBatch), CompletionServer.Options.defaults().maxBodyBytes());
        try (Model m = Model.open(model, threadCount, mapping.map())) {
            String name = model.getFileName().toString().replaceFirst("\\.bin$", "");
            // The kernels compiled before the first request, not during it (its first tokens took 1.5-2 s instead of
            // 0.4 s): the warm-up starts with the web server, which answers /health with 503 from its first request
            // until the warm-up's rounds run at compiled speed. Requests are taken meanwhile, and so are signals.
            out.printf("tinyllm serve: starting %s and compiling its kernels (/health answers 503 until they are) ...%n", name);
            CountDownLatch stopped = new CountDownLatch(1);
            try (WarmUp warmUp = Model.warmUp(m.config().dtype())) {
                CompletionServer server = CompletionServer.start(m, name, options, true);
                Runnable drain = () -> {
                    warmUp.close(); // if still warming up: the wait below ends, the cores go to the requests
                    out.println("tinyllm serve: shutting down: no new requests, waiting up to " + drainSeconds + " s for running ones");
                    boolean drained = server.shutdown(Duration.ofSeconds(drainSeconds));
                    out.println(drained ? "tinyllm serve: stopped" : "tinyllm serve: stopped, cutting off requests still running");
                    stopped.countDown();
                };
                AtomicBoolean draining = new AtomicBoolean();
                Runnable shutDown = () -> {
                    if (draining.compareAndSet(false, true)) Thread.ofPlatform().name("tinyllm-shutdown").start(drain);
                };
                // Handled here rather than by a shutdown hook, so that a drained server exits 0, not 143. sun.misc.Signal
                // (module jdk.unsupported) is the JDK's only way to do so; javac warns that it is internal.
                for (String signal : new String[] {"TERM", "INT"}) {
                    Signal.handle(new Signal(signal), s -> shutDown.run());
                }
                if (exitWith != null) {
                    ProcessHandle.of(exitWith).ifPresentOrElse(parent -> parent.onExit().thenRun(shutDown), shutDown);
                }
                boolean warm = warmUp.awaitRounds(WARM_UP_ROUNDS, WARM_UP_LIMIT.toNanos());
                server.warmingUp(false);
                if (stopped.getCount() > 0) {
                    if (!warm) {
                        out.println("tinyllm serve: the kernels' warm-up did not finish in " + WARM_UP_LIMIT.toSeconds()
                                + " s; serving anyway, the first requests slower");
                    }
                    out.printf("tinyllm serve: %s on http://%s:%d/v1 (max batch %d, queue %d, %d threads)%n",
                            name, host, server.port(), maxBatch, maxQueue, m.threads());
                }
            }
            stopped.await();
        }
        return 0;
    }
}
