package tinyllm.bench;

import java.util.SplittableRandom;

import tinyllm.model.GPT2Config;
import tinyllm.api.Model;
import tinyllm.api.Session;

/** Prefill and decode speed of one model, measured the way a user's generation runs. */
public final class EngineBench {
    private final Model model;
    private final Session session;
    private final int[] tokens;

    public EngineBench(Model model) {
        this.model = model;
        this.session = model.newSession();
        GPT2Config c = model.config();
        SplittableRandom random = new SplittableRandom(1);
        this.tokens = new int[c.maxSeqLen()];
        for (int i = 0; i < tokens.length; i++) tokens[i] = random.nextInt(c.vocabSize());
    }

    /**
     * Runs every kernel on every shape it will see until decode speed settles, so the measured runs are
     * C2-compiled code (a model of another storage type in the same JVM makes call sites recompile).
     */
    public void warmUp() {
        int maxT = model.config().maxSeqLen();
        double previous = Double.MAX_VALUE;
        for (int round = 0; round < 20; round++) {
            session.reset();
            // Leave room for the 48 decode steps (bench refuses contexts under 64).
            session.prefill(tokens, 0, Math.max(1, Math.min(maxT - 49, 256)));
            long start = System.nanoTime();
            for (int i = 0; i < 48; i++) {
                session.append(session.argmax());
            }
            double perStep = (System.nanoTime() - start) / 48.0;
            if (round >= 2 && perStep > 0.95 * previous) {
                return;
            }
            previous = Math.min(previous, perStep);
        }
    }

    /** Best-of-{@code repeats} prefill speed for a prompt of {@code length} tokens, in tokens/s. */
    public double prefillTokensPerSecond(int length, int repeats) {
        long best = Long.MAX_VALUE;
        for (int r = 0; r < repeats; r++) {
            session.reset();
            long start = System.nanoTime();
            session.prefill(tokens, 0, length);
            best = Math.min(best, System.nanoTime() - start);
        }
        return length / (best / 1e9);
    }

    /**
     * Times every decode step from position {@code start} to {@code end}: element i is the nanoseconds
     * of the step that fed the token at position start + i (so it attended over start + i + 1 positions).
     */
    public long[] decodeSteps(int start, int end) {
        session.reset();
        session.prefill(tokens, 0, start);
        long[] nanos = new long[end - start];
        for (int i = 0; i < nanos.length; i++) {
            int next = session.argmax();
            long t0 = System.nanoTime();
            session.append(next);
            nanos[i] = System.nanoTime() - t0;
        }
        return nanos;
    }

    /**
     * Decode at {@code context} against the read rate of the weights, measured {@code rounds} times, each round
     * {@code window} decode steps around the context and then one read of the weights by {@code reader}: both
     * figures of a round come from the same minute of the host. Returns per round {tokens/s (median step), GB/s}.
     */
    public double[][] pairedDecodeAndRead(int context, int window, int rounds, MachineProbe.SegmentReader reader) {
        double[][] pairs = new double[rounds][];
        int start = Math.max(1, context - window / 2);
        for (int r = 0; r < rounds; r++) {
            long[] steps = decodeSteps(start, start + window);
            pairs[r] = new double[] {1e9 / median(steps, 0, steps.length), reader.gbPerSecond()};
        }
        return pairs;
    }

    /** Tokens/s over the {@code window} steps around context position {@code context}, from {@link #decodeSteps}. */
    public static double decodeTokensPerSecond(long[] steps, int start, int context, int window) {
        int from = Math.max(0, context - start - window / 2), to = Math.min(steps.length, from + window);
        from = Math.max(0, to - window);
        // The median resists the odd step that a page fault or another process stretched.
        return 1e9 / median(steps, from, to);
    }

    /** The median of steps[from, to). */
    private static long median(long[] steps, int from, int to) {
        long[] sorted = java.util.Arrays.copyOfRange(steps, from, to);
        java.util.Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    /**
     * Tokens/s over every step of {@link #decodeSteps}, slow ones included: what a stream of tokens averages. The
     * medians above leave out the odd stretched step; this does not, so the two side by side show what the stalls
     * cost (on our 2-core VM some 4 % of decode steps took 25-250 ms: the host's, see the README).
     */
    public static double meanTokensPerSecond(long[] steps) {
        long total = 0;
        for (long step : steps) total += step;
        return steps.length * 1e9 / total;
    }

    /** How many steps of {@link #decodeSteps} took more than three times the median step. */
    public static int stalledSteps(long[] steps) {
        long median = median(steps, 0, steps.length);
        int stalled = 0;
        for (long step : steps) if (step > 3 * median) stalled++;
        return stalled;
    }

    /** Multiply-adds x 2 of the matrix products for a prompt of T tokens (logits for one row), plus attention. */
    public static double prefillFlops(GPT2Config c, int T) {
        double C = c.channels();
        double perRow = c.layers() * (2 * (3 * C * C + C * C + 4 * C * C + 4 * C * C));
        double attention = c.layers() * 2.0 * 2 * C * (T * (T + 1) / 2.0); // q·k and att·v over the causal triangle
        return perRow * T + attention + 2.0 * C * c.vocabSize();
    }

    public void close() {
        session.close();
    }
}
