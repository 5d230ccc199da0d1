package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;
import static tinyllm.kernels.Simd.at;

/**
 * The one softmax: attention's scores (in place), the sampler's and the server's logits (into weights).
 *
 * <p>Its exp is built here from multiply, add and fused multiply-add, and its sum is taken in order, in double:
 * {@code Math.exp} and the Vector API's {@code EXP} give different last bits interpreted, in C1 and in C2 (the
 * interpreted EXP calls {@code Math.exp} per lane, C2 a vector library), and {@code reduceLanes(ADD)} may add
 * in any order, so the same seeded sample came out different depending on the JIT tier it ran in. IEEE
 * multiply, add and fma round the same everywhere, and the scalar tail takes the same steps as a lane.
 *
 * <p>The vector exp is written inside the loop, not in a helper method: a helper taking and returning a
 * {@code FloatVector} that C2 compiles on its own first is then too big to inline into its callers, and every
 * call boxes its vectors (1.2 MB of garbage per softmax over GPT-2's vocabulary).
 */
public final class Softmax {
    private Softmax() {}

    /** x[0..n) = exp(x - max) / sum, in place, for one attention row of n ≥ 1 scores. */
    public static void inPlace(MemorySegment x, int n) {
        Simd.requireFloats(x, n);
        float inverse = (float) (1 / exp(x, x, n, max(x, n), 1f));
        int upper = F.loopBound(n);
        int i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector.fromMemorySegment(F, x, at(i), LE).mul(inverse).intoMemorySegment(x, at(i), LE);
        }
        for (; i < n; i++) {
            x.setAtIndex(FLOAT, i, x.getAtIndex(FLOAT, i) * inverse);
        }
    }

    /**
     * weights[0..n) = exp((logits[0..n) - max) / T), unnormalised; returns max, and the sum of the weights in
     * {@code total[0]}. The most likely token weighs 1 and the sum lies in [1, n], so callers scale by the sum
     * instead of dividing every weight by it. A NaN or infinite logit makes the sum NaN.
     *
     * @param logits             n ≥ 1 floats, not modified
     * @param weights            n floats (a segment over the caller's float[], made once)
     * @param inverseTemperature 1 / T (1 for the model's own distribution)
     */
    public static float weights(MemorySegment logits, int n, float inverseTemperature, MemorySegment weights, double[] total) {
        Simd.requireFloats(logits, n);
        Simd.requireFloats(weights, n);
        float max = max(logits, n);
        total[0] = exp(logits, weights, n, max, inverseTemperature);
        return max;
    }

    /** x[0..n) = exp((x - max) / T), unnormalised, in place (the sampler's k kept logits); returns the sum. */
    public static double inPlace(float[] x, int n, float inverseTemperature) {
        float max = x[0];
        for (int i = 1; i < n; i++) {
            max = Math.max(max, x[i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            x[i] = exp((x[i] - max) * inverseTemperature);
            sum += x[i];
        }
        return sum;
    }

    /**
     * max of x[0..n), n ≥ 1. The running maximum starts from the first vector (or element), not from a
     * broadcast -inf: C2 failed to scalarise that broadcast in some compiles when n was under one vector, and
     * the softmax then allocated a vector per call, forever (examples/VariedWarmUp showed it).
     */
    static float max(MemorySegment x, int n) {
        int upper = F.loopBound(n);
        float max;
        int i;
        if (upper > 0) {
            FloatVector maxVector = FloatVector.fromMemorySegment(F, x, at(0), LE);
            for (i = F.length(); i < upper; i += F.length()) {
                maxVector = maxVector.max(FloatVector.fromMemorySegment(F, x, at(i), LE));
            }
            max = maxVector.reduceLanes(VectorOperators.MAX);
        } else {
            max = x.getAtIndex(FLOAT, 0);
            i = 1;
        }
        for (; i < n; i++) {
            max = Math.max(max, x.getAtIndex(FLOAT, i));
        }
        return max;
    }

    // exp(y) for y ≤ 0: y = k ln2 + r with |r| ≤ ln2 / 2; exp(r) by its Taylor polynomial to r^7 in Horner's
    // form (relative error under 2e-8 there, below a float's rounding), times 2^k put straight into the
    // exponent bits. k is y / ln2 rounded with the 1.5 * 2^23 trick (after adding it, k sits in the low
    // mantissa bits); ln2 is split in two (Cephes' split: the high part has few bits) and subtracted by fma,
    // so r keeps its precision. y is clamped at -87, where 2^k reaches the smallest normal float: exp of
    // anything lower reads about 1e-38 instead of a subnormal or 0, no weight that matters. A NaN stays NaN.
    private static final float LOG2E = 1.44269504f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 12582912f; // 1.5 * 2^23
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);
    private static final float LOWEST = -87f;
    private static final float T2 = 1f / 2, T3 = 1f / 6, T4 = 1f / 24, T5 = 1f / 120, T6 = 1f / 720, T7 = 1f / 5040;

    /** dst[0..n) = exp((src[0..n) - max) * s), src may be dst; returns the sum, added in order in double. */
    private static double exp(MemorySegment src, MemorySegment dst, int n, float max, float s) {
        FloatVector minusLn2Hi = FloatVector.broadcast(F, -LN2_HI), minusLn2Lo = FloatVector.broadcast(F, -LN2_LO);
        int upper = F.loopBound(n);
        int i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector y = FloatVector.fromMemorySegment(F, src, at(i), LE).sub(max).mul(s).max(LOWEST);
            FloatVector shifted = y.fma(LOG2E, ROUND);
            FloatVector k = shifted.sub(ROUND);
            FloatVector r = k.fma(minusLn2Hi, y);
            r = k.fma(minusLn2Lo, r);
            FloatVector p = r.mul(T7).add(T6).mul(r).add(T5).mul(r).add(T4).mul(r).add(T3).mul(r).add(T2)
                    .mul(r).add(1f).mul(r).add(1f);
            IntVector kBits = shifted.reinterpretAsInts().sub(ROUND_BITS);
            FloatVector twoToK = kBits.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            p.mul(twoToK).intoMemorySegment(dst, at(i), LE);
        }
        for (; i < n; i++) {
            dst.setAtIndex(FLOAT, i, exp((src.getAtIndex(FLOAT, i) - max) * s));
        }
        double sum = 0;
        for (i = 0; i < n; i++) {
            sum += dst.getAtIndex(FLOAT, i);
        }
        return sum;
    }

    /** exp(y), y ≤ 0, by the same steps as a lane of the vector loop above. */
    static float exp(float y) {
        y = Math.max(y, LOWEST);
        float shifted = Math.fma(y, LOG2E, ROUND);
        float k = shifted - ROUND;
        float r = Math.fma(k, -LN2_HI, y);
        r = Math.fma(k, -LN2_LO, r);
        float p = ((((((r * T7 + T6) * r + T5) * r + T4) * r + T3) * r + T2) * r + 1f) * r + 1f;
        int kBits = Float.floatToRawIntBits(shifted) - ROUND_BITS;
        return p * Float.intBitsToFloat((kBits + 127) << 23);
    }
}
