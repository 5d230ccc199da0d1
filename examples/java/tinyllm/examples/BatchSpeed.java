package tinyllm.examples;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

import tinyllm.api.BatchRunner;
import tinyllm.api.Model;
import tinyllm.api.Sequence;
import tinyllm.kernels.Argmax;

/**
 * What batching buys: the time of one decode step with 1, 4 and 16 sequences in it, and the aggregate
 * tokens/s that makes. Each step reads the weights once whatever the number of rows, so the aggregate
 * should grow almost with the rows until their arithmetic, not the weights' bytes, sets the pace.
 * Sizes are interleaved round by round, so a noisy machine disturbs them alike; the median is reported.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *      -cp target/tinyllm.jar tinyllm.examples.BatchSpeed weights/synthetic-124M.bin [threads] [rows,rows,...]
 * </pre>
 */
public final class BatchSpeed {
    private static final int PROMPT = 16, STEPS = 16, ROUNDS = 5;

    public static void main(String[] args) {
        Path checkpoint = Path.of(args.length > 0 ? args[0] : "weights/synthetic-124M.bin");
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
        int[] sizes = args.length > 2 ? Arrays.stream(args[2].split(",")).mapToInt(Integer::parseInt).toArray() : new int[] {1, 4, 16};
        int most = Arrays.stream(sizes).max().getAsInt();
        try (Model model = Model.open(checkpoint, threads); BatchRunner runner = model.newBatchRunner(most * PROMPT)) {
            int vocab = model.config().vocabSize();
            Sequence[] seqs = new Sequence[most];
            for (int s = 0; s < seqs.length; s++) seqs[s] = runner.newSequence(PROMPT + STEPS + 1);
            int[][] prompts = new int[seqs.length][PROMPT];
            for (int s = 0; s < seqs.length; s++) {
                for (int t = 0; t < PROMPT; t++) prompts[s][t] = (s * 7919 + t * 104729) % vocab;
            }
            double[][] stepMillis = new double[sizes.length][ROUNDS];
            for (int round = -2; round < ROUNDS; round++) { // two rounds of warm-up for the JIT
                for (int i = 0; i < sizes.length; i++) {
                    double ms = decodeStepMillis(runner, seqs, prompts, sizes[i], vocab);
                    if (round >= 0) stepMillis[i][round] = ms;
                }
            }
            System.out.printf(Locale.ROOT, "%s, %d threads, decode steps after a %d-token prompt%n", checkpoint, threads, PROMPT);
            System.out.printf(Locale.ROOT, "%-6s %12s %14s %10s%n", "rows", "ms/step", "tokens/s", "vs 1 row");
            double single = 0;
            for (int i = 0; i < sizes.length; i++) {
                double[] sorted = stepMillis[i].clone();
                Arrays.sort(sorted);
                double median = sorted[ROUNDS / 2], tokensPerSecond = sizes[i] * 1000 / median;
                if (i == 0) single = tokensPerSecond;
                System.out.printf(Locale.ROOT, "%-6d %12.2f %14.1f %9.2fx%n", sizes[i], median, tokensPerSecond, tokensPerSecond / single);
            }
        }
    }

    /** Prefills {@code rows} sequences in one step, then times STEPS decode steps of one row each. */
    private static double decodeStepMillis(BatchRunner runner, Sequence[] seqs, int[][] prompts, int rows, int vocab) {
        int[][] next = new int[rows][1];
        for (int s = 0; s < rows; s++) {
            seqs[s].reset();
            runner.add(seqs[s], prompts[s], 0, PROMPT, true);
        }
        runner.step();
        long start = 0;
        for (int step = -1; step < STEPS; step++) {
            if (step == 0) start = System.nanoTime(); // the first step after the prompt is not timed
            for (int s = 0; s < rows; s++) {
                next[s][0] = Argmax.forward(runner.logits(seqs[s]), vocab);
                runner.add(seqs[s], next[s], 0, 1, true);
            }
            runner.step();
        }
        return (System.nanoTime() - start) / 1e6 / STEPS;
    }
}
