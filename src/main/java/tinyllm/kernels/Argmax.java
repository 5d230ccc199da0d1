package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import static tinyllm.kernels.Simd.FLOAT;

/** Greedy choice over the logits. */
public final class Argmax {
    private Argmax() {}

    /** The index of the largest of logits[0..V); the lowest index wins a tie, as in llm.c's fixtures. */
    public static int forward(MemorySegment logits, int V) {
        int best = 0;
        float bestValue = logits.get(FLOAT, 0);
        for (int i = 1; i < V; i++) {
            float v = logits.get(FLOAT, (long) i * Float.BYTES);
            if (v > bestValue) {
                bestValue = v;
                best = i;
            }
        }
        return best;
    }
}
