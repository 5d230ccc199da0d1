package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import static tinyllm.kernels.Simd.FLOAT;

/** Greedy choice over the logits. */
public final class Argmax {
    private Argmax() {}

    /**
     * The index of the largest of logits[0..V); the lowest index wins a tie, as in llm.c's fixtures.
     * -1 if any of them is NaN or infinite: one NaN weight makes every logit NaN, and the comparison
     * alone would then answer token 0 forever.
     */
    public static int forward(MemorySegment logits, int V) {
        int best = 0;
        float bestValue = logits.getAtIndex(FLOAT, 0);
        boolean finite = Float.isFinite(bestValue);
        for (int i = 1; i < V; i++) {
            float v = logits.getAtIndex(FLOAT, i);
            finite &= Float.isFinite(v);
            if (v > bestValue) {
                bestValue = v;
                best = i;
            }
        }
        return finite ? best : -1;
    }
}
