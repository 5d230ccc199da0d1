package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;

/**
 * The softmax of a row of logits, for choosing tokens and for their log-probabilities (the sampler, the server's
 * logprobs). Attention's softmax over scores is its own in-place kernel, fused into that loop.
 */
public final class Softmax {
    private Softmax() {}

    /**
     * weights[0..n) = exp((logits[0..n) - max) / T), unnormalised; returns max, and the sum of the weights in
     * {@code total[0]}. Subtracting the max keeps exp from overflowing, so the most likely token weighs 1 and the
     * sum lies in [1, n]; callers scale by the sum instead of dividing every weight by it. A NaN or infinite logit
     * makes the sum NaN.
     *
     * @param logits             n floats, not modified
     * @param inverseTemperature 1 / T (1 for the model's own distribution)
     */
    public static float weights(MemorySegment logits, int n, float inverseTemperature, float[] weights, double[] total) {
        int upper = F.loopBound(n);
        FloatVector maxVector = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i < upper; i += F.length()) {
            maxVector = maxVector.max(FloatVector.fromMemorySegment(F, logits, (long) i * Float.BYTES, LE));
        }
        float max = maxVector.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            max = Math.max(max, logits.get(FLOAT, (long) i * Float.BYTES));
        }
        FloatVector sumVector = FloatVector.zero(F);
        for (i = 0; i < upper; i += F.length()) {
            FloatVector weight = FloatVector.fromMemorySegment(F, logits, (long) i * Float.BYTES, LE)
                    .sub(max).mul(inverseTemperature).lanewise(VectorOperators.EXP);
            weight.intoArray(weights, i);
            sumVector = sumVector.add(weight);
        }
        double sum = sumVector.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float weight = (float) Math.exp((logits.get(FLOAT, (long) i * Float.BYTES) - max) * inverseTemperature);
            weights[i] = weight;
            sum += weight;
        }
        total[0] = sum;
        return max;
    }
}
