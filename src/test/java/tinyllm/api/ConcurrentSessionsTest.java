package tinyllm.api;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;

import tinyllm.Fixtures;
import tinyllm.tokenizer.GPT2Tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** Sessions share a model's weights and worker pool, never their state: together they give what each gives alone. */
class ConcurrentSessionsTest {
    static final int SESSIONS = 4, NEW_TOKENS = 30;

    @Test
    void fourSessionsOnOneModelFromFourThreadsMatchEachAlone() throws Exception {
        Path checkpoint = Fixtures.path("micro.bin");
        GPT2Tokenizer tokenizer = new GPT2Tokenizer();
        int[][] prompts = {{10, 200, 257, 499}, {1, 2, 3}, {42, 7, 300, 0, 5, 9}, {499}};

        try (Model model = Model.open(checkpoint, 2)) {
            int[][] alone = new int[SESSIONS][];
            for (int s = 0; s < SESSIONS; s++) {
                alone[s] = run(model, tokenizer, chooser(s), prompts[s]);
            }
            CyclicBarrier start = new CyclicBarrier(SESSIONS);
            ExecutorService threads = Executors.newFixedThreadPool(SESSIONS);
            try {
                Future<?>[] together = new Future<?>[SESSIONS];
                for (int s = 0; s < SESSIONS; s++) {
                    int session = s;
                    together[s] = threads.submit((Callable<int[]>) () -> {
                        start.await();
                        return run(model, tokenizer, chooser(session), prompts[session]);
                    });
                }
                for (int s = 0; s < SESSIONS; s++) {
                    assertArrayEquals(alone[s], (int[]) together[s].get(), "session " + s);
                }
            } finally {
                threads.shutdown();
            }
        }
    }

    /**
     * A fresh chooser per run, so samplers start from their seed each time. Two sessions sample, so one
     * that read another's logits would show even where greedy choices happen to agree.
     */
    private static TokenChooser chooser(int session) {
        return switch (session) {
            case 1 -> new Sampler(500, 0.9f, 50, 0.95f, 11);
            case 3 -> new Sampler(500, 1.2f, 0, 0.9f, 12);
            default -> new Greedy();
        };
    }

    private static int[] run(Model model, GPT2Tokenizer tokenizer, TokenChooser chooser, int[] prompt) {
        try (Session session = model.newSession()) {
            int[] out = new int[NEW_TOKENS];
            // Several generations per session, to interleave prefill and decode across threads.
            Generator generator = new Generator(chooser, tokenizer, false, List.of());
            generator.generate(session, prompt, out, null);
            session.reset();
            generator.generate(session, prompt, out, null);
            return out;
        }
    }
}
