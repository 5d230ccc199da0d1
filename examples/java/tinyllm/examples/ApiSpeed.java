package tinyllm.examples;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import tinyllm.api.Generator;
import tinyllm.api.Greedy;
import tinyllm.api.Model;
import tinyllm.api.Sampler;
import tinyllm.api.Session;
import tinyllm.api.TokenChooser;
import tinyllm.tokenizer.GPT2Tokenizer;

/**
 * What the API costs an embedding program: decode tokens/s with greedy against sampling, and the
 * aggregate tokens/s of several sessions on one model, each driven by its own thread, against one.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *      -cp target/tinyllm.jar tinyllm.examples.ApiSpeed weights/synthetic-124M.bin
 * </pre>
 */
public final class ApiSpeed {
    private static final int[] PROMPT = {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13};

    public static void main(String[] args) throws Exception {
        Path checkpoint = Path.of(args.length > 0 ? args[0] : "weights/synthetic-124M.bin");
        GPT2Tokenizer tokenizer = new GPT2Tokenizer();
        try (Model model = Model.open(checkpoint)) {
            int vocab = model.config().vocabSize();
            for (int i = 0; i < 3; i++) { // warm-up: the JIT compiles the kernels, and the samplers' code
                decodeTokensPerSecond(model, tokenizer, new Greedy(), 300);
                decodeTokensPerSecond(model, tokenizer, new Sampler(vocab, 0.8f, 40, 0.95f, i), 300);
            }
            for (TokenChooser chooser : new TokenChooser[] {new Greedy(), new Sampler(vocab, 0.8f, 40, 0.95f, 1),
                    new Sampler(vocab, 1f, 0, 0.9f, 1)}) {
                System.out.printf(Locale.ROOT, "%-55s %.1f decode tokens/s%n", chooser.describe(),
                        decodeTokensPerSecond(model, tokenizer, chooser, 300));
            }
            for (int sessions : new int[] {1, 4}) {
                System.out.printf(Locale.ROOT, "%d session(s), one thread each: %.1f tokens/s in all%n",
                        sessions, aggregateTokensPerSecond(model, tokenizer, sessions, 200));
            }
        }
    }

    private static double decodeTokensPerSecond(Model model, GPT2Tokenizer tokenizer, TokenChooser chooser, int tokens) {
        try (Session session = model.newSession()) {
            Generator.Result result = new Generator(chooser, tokenizer, false, List.of())
                    .generate(session, PROMPT, new int[tokens], null);
            return result.decodeSteps() / (result.decodeNanos() / 1e9);
        }
    }

    /** Wall-clock tokens/s of {@code sessions} greedy generations running at once, prompts included. */
    private static double aggregateTokensPerSecond(Model model, GPT2Tokenizer tokenizer, int sessions, int tokens) throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(sessions);
        try {
            List<Future<?>> running = new ArrayList<>();
            long start = System.nanoTime();
            for (int s = 0; s < sessions; s++) {
                running.add(threads.submit(() -> decodeTokensPerSecond(model, tokenizer, new Greedy(), tokens)));
            }
            for (Future<?> f : running) {
                f.get();
            }
            return sessions * (double) tokens / ((System.nanoTime() - start) / 1e9);
        } finally {
            threads.shutdown();
        }
    }
}
