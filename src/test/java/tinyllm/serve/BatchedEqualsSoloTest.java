package tinyllm.serve;

import java.nio.file.Path;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;

import tinyllm.Fixtures;
import tinyllm.model.DType;
import tinyllm.api.Generator;
import tinyllm.api.Greedy;
import tinyllm.api.Model;
import tinyllm.api.Sampler;
import tinyllm.api.Session;
import tinyllm.api.TokenChooser;
import tinyllm.tokenizer.GPT2Tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whatever runs in the same steps, a request gets what it gets alone: at temperature 0 the tokens of a solo
 * {@link Generator} run, and with a seed the same draws. On vocab.bin (GPT-2's real vocabulary, context 128), with
 * a small row budget so that long prompts are prefilled in chunks between other requests' decode rows.
 *
 * <p>Sampled requests use top-k 40 or none (the softmax over the whole vocabulary): both give the same bits
 * before and after the JIT compiles them (kernels.Softmax), so the solo run, cold, and the server's, warm, agree.
 */
@Timeout(120)
class BatchedEqualsSoloTest {
    static final int REQUESTS = 16, STEP_TOKENS = 24;
    static final GPT2Tokenizer TOKENIZER = new GPT2Tokenizer();

    record Case(String prompt, int maxTokens, String sampling, TokenChooser chooser) {}

    @TempDir
    Path dir;

    /** fp32, and q8 through the same matrix type (vocab.bin converted). */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"fp32", "q8"})
    void sixteenConcurrentRequestsEachGetTheirSoloTokens(String dtype) throws Exception {
        Path file = dtype.equals("q8") ? Fixtures.converted(Fixtures.path("vocab.bin"), dir.resolve("vocab-q8.bin"), DType.Q8)
                : Fixtures.path("vocab.bin");
        try (Model model = Http.open(file)) {
            List<Case> cases = new ArrayList<>();
            for (int i = 0; i < REQUESTS; i++) {
                // Prompts of 1 to ~60 tokens and 3 to 48 new tokens, so requests start and end in different steps.
                String prompt = "Request " + i + ":" + " once upon a time".repeat(i % 5 * 3) + (i % 3 == 0 ? " and then" : "");
                int maxTokens = 3 + (i * 7) % 46;
                boolean sampled = i % 4 == 3;
                int topK = i % 8 == 3 ? 40 : 0; // top-k 0: the softmax over the whole vocabulary
                String sampling = sampled ? "\"temperature\": 0.9, \"top_k\": " + topK + ", \"top_p\": 0.9, \"seed\": " + (100 + i) : "\"temperature\": 0";
                TokenChooser chooser = sampled ? new Sampler(model.config().vocabSize(), 0.9f, topK, 0.9f, 100 + i) : new Greedy();
                cases.add(new Case(prompt, maxTokens, sampling, chooser));
            }
            String[] solo = new String[REQUESTS];
            try (Session session = model.newSession()) {
                for (int i = 0; i < REQUESTS; i++) {
                    Case c = cases.get(i);
                    session.reset();
                    int[] out = new int[c.maxTokens()];
                    Generator generator = new Generator(c.chooser(), TOKENIZER, true, List.of());
                    int n = generator.generate(session, TOKENIZER.encode(c.prompt()), out, null).newTokens();
                    solo[i] = TOKENIZER.decode(Arrays.copyOf(out, n));
                }
            }

            CompletionServer server = Http.serve(model, REQUESTS, REQUESTS, STEP_TOKENS, 1 << 20);
            ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor();
            try {
                // Hold the engine until all sixteen are in, so that they share their steps from the first.
                Semaphore steps = new Semaphore(0);
                server.scheduler().paceSteps(steps);
                List<Future<String>> together = new ArrayList<>();
                for (int i = 0; i < REQUESTS; i++) {
                    Case c = cases.get(i);
                    boolean stream = i % 2 == 0;
                    String body = "{\"prompt\": " + Http.JSON.writeValueAsString(c.prompt()) + ", \"max_tokens\": " + c.maxTokens()
                            + ", " + c.sampling() + ", \"stream\": " + stream + "}";
                    together.add(clients.submit(() -> stream ? Http.stream(server, body).text()
                            : Http.post(server, body).json().path("choices").get(0).path("text").asText()));
                }
                long deadline = System.nanoTime() + 20_000_000_000L;
                while (server.scheduler().running() + server.scheduler().queued() < REQUESTS && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertEquals(REQUESTS, server.scheduler().running() + server.scheduler().queued(), "all requests arrived");
                server.scheduler().paceSteps(null);
                steps.release(Integer.MAX_VALUE / 2);
                for (int i = 0; i < REQUESTS; i++) {
                    assertEquals(solo[i], together.get(i).get(), "request " + i + " (" + cases.get(i).sampling() + ")");
                }
                String metrics = Http.get(server, "/metrics").body();
                assertTrue(metrics.contains("tinyllm_tokens_prompt_total"), metrics);
            } finally {
                clients.shutdownNow();
                server.close();
            }
        }
    }
}
