package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;

/**
 * Causal multi-head self-attention over a KV cache.
 *
 * <p>Cache layout, per layer: keys (NH, hs, maxT), stored transposed, and values (NH, maxT, hs).
 * Transposed keys let the scores of one query against all earlier positions be computed with vectors
 * running along the positions, with no horizontal sum per key; values are read row by row, a whole
 * head's vector at a time.
 */
public final class Attention {
    private Attention() {}

    /**
     * Copies the keys and values of T new tokens at positions [pos0, pos0 + T) into the cache.
     * qkv (T,3C): each row is [q (C) | k (C) | v (C)], heads side by side within each part.
     * keys (NH,hs,maxT), values (NH,maxT,hs).
     */
    public static void storeKeysValues(MemorySegment keys, MemorySegment values, MemorySegment qkv,
                                       int T, int pos0, int C, int NH, int maxT) {
        int hs = C / NH;
        for (int t = 0; t < T; t++) {
            int pos = pos0 + t;
            long row = (long) t * 3 * C * Float.BYTES;
            for (int h = 0; h < NH; h++) {
                long k = row + (long) (C + h * hs) * Float.BYTES;
                long v = row + (long) (2 * C + h * hs) * Float.BYTES;
                long keyColumn = ((long) h * hs * maxT + pos) * Float.BYTES;
                for (int d = 0; d < hs; d++) {
                    keys.set(FLOAT, keyColumn + (long) d * maxT * Float.BYTES, qkv.get(FLOAT, k + (long) d * Float.BYTES));
                }
                MemorySegment.copy(qkv, v, values, ((long) h * maxT + pos) * hs * Float.BYTES, (long) hs * Float.BYTES);
            }
        }
    }

    /**
     * out[t, h] = softmax(q[t,h] · K[h, 0..pos]ᵀ / sqrt(hs)) · V[h, 0..pos], pos = pos0 + t: each query sees
     * itself and every earlier position, never a later one.
     * Work items [from, to) number the (query row, head) pairs t * NH + h, so threads can split them.
     * qkv (T,3C), keys (NH,hs,maxT), values (NH,maxT,hs), out (T,C);
     * scores: scratch of at least pos0 + T floats, owned by the calling thread.
     */
    public static void forward(MemorySegment out, MemorySegment qkv, MemorySegment keys, MemorySegment values,
                               MemorySegment scores, int pos0, int C, int NH, int maxT, int from, int to) {
        int hs = C / NH;
        float scale = (float) (1.0 / Math.sqrt(hs));
        for (int item = from; item < to; item++) {
            int t = item / NH, h = item % NH;
            int n = pos0 + t + 1;
            long q = ((long) t * 3 * C + (long) h * hs) * Float.BYTES;
            long keyHead = (long) h * hs * maxT * Float.BYTES;
            long valueHead = (long) h * maxT * hs * Float.BYTES;
            scores(scores, qkv, q, keys, keyHead, hs, n, maxT, scale);
            softmax(scores, n);
            weightedValues(out, ((long) t * C + (long) h * hs) * Float.BYTES, scores, values, valueHead, hs, n);
        }
    }

    /** scores[j] = scale * q · K[:, j] for j in [0, n). K column-major: row d holds dimension d of every position. */
    private static void scores(MemorySegment scores, MemorySegment qkv, long q, MemorySegment keys, long keyHead,
                               int hs, int n, int maxT, float scale) {
        long keyRow = (long) maxT * Float.BYTES;
        int j = 0;
        for (; j < F.loopBound(n); j += F.length()) {
            long column = keyHead + (long) j * Float.BYTES;
            FloatVector acc = FloatVector.zero(F);
            for (int d = 0; d < hs; d++) {
                float qd = qkv.get(FLOAT, q + (long) d * Float.BYTES);
                acc = FloatVector.fromMemorySegment(F, keys, column + d * keyRow, LE).fma(FloatVector.broadcast(F, qd), acc);
            }
            acc.mul(scale).intoMemorySegment(scores, (long) j * Float.BYTES, LE);
        }
        for (; j < n; j++) {
            long column = keyHead + (long) j * Float.BYTES;
            float acc = 0f;
            for (int d = 0; d < hs; d++) {
                acc += qkv.get(FLOAT, q + (long) d * Float.BYTES) * keys.get(FLOAT, column + d * keyRow);
            }
            scores.set(FLOAT, (long) j * Float.BYTES, acc * scale);
        }
    }

    /** scores[0..n) = exp(s - max) / sum, in place; subtracting the max keeps exp from overflowing. */
    private static void softmax(MemorySegment scores, int n) {
        int upper = F.loopBound(n);
        FloatVector maxV = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (; j < upper; j += F.length()) {
            maxV = maxV.max(FloatVector.fromMemorySegment(F, scores, (long) j * Float.BYTES, LE));
        }
        float max = maxV.reduceLanes(VectorOperators.MAX);
        for (; j < n; j++) {
            max = Math.max(max, scores.get(FLOAT, (long) j * Float.BYTES));
        }
        FloatVector sumV = FloatVector.zero(F);
        for (j = 0; j < upper; j += F.length()) {
            long o = (long) j * Float.BYTES;
            FloatVector e = FloatVector.fromMemorySegment(F, scores, o, LE).sub(max).lanewise(VectorOperators.EXP);
            e.intoMemorySegment(scores, o, LE);
            sumV = sumV.add(e);
        }
        float sum = sumV.reduceLanes(VectorOperators.ADD);
        for (; j < n; j++) {
            long o = (long) j * Float.BYTES;
            float e = (float) Math.exp(scores.get(FLOAT, o) - max);
            scores.set(FLOAT, o, e);
            sum += e;
        }
        float inverse = 1f / sum;
        for (j = 0; j < upper; j += F.length()) {
            long o = (long) j * Float.BYTES;
            FloatVector.fromMemorySegment(F, scores, o, LE).mul(inverse).intoMemorySegment(scores, o, LE);
        }
        for (; j < n; j++) {
            long o = (long) j * Float.BYTES;
            scores.set(FLOAT, o, scores.get(FLOAT, o) * inverse);
        }
    }

    /** out[0..hs) = sum over j < n of weights[j] * V[j, 0..hs). */
    private static void weightedValues(MemorySegment out, long outHead, MemorySegment weights,
                                       MemorySegment values, long valueHead, int hs, int n) {
        long valueRow = (long) hs * Float.BYTES;
        int d = 0;
        for (; d < F.loopBound(hs); d += F.length()) {
            long column = valueHead + (long) d * Float.BYTES;
            FloatVector acc = FloatVector.zero(F);
            for (int j = 0; j < n; j++) {
                acc = FloatVector.fromMemorySegment(F, values, column + j * valueRow, LE)
                        .fma(FloatVector.broadcast(F, weights.get(FLOAT, (long) j * Float.BYTES)), acc);
            }
            acc.intoMemorySegment(out, outHead + (long) d * Float.BYTES, LE);
        }
        for (; d < hs; d++) {
            long column = valueHead + (long) d * Float.BYTES;
            float acc = 0f;
            for (int j = 0; j < n; j++) {
                acc += weights.get(FLOAT, (long) j * Float.BYTES) * values.get(FLOAT, column + j * valueRow);
            }
            out.set(FLOAT, outHead + (long) d * Float.BYTES, acc);
        }
    }
}
