package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;
import static tinyllm.kernels.Simd.at;

/**
 * Causal multi-head self-attention over a KV cache.
 *
 * <p>Cache layout, per layer. Keys are stored in tiles one vector wide: (NH, blocks, hs, L) with
 * L = {@link Simd#LANES} and blocks = ceil(maxT / L), so the key of position p sits at
 * [h][p / L][d][p % L]. The scores of one query against L positions are then hs vector FMAs over one
 * contiguous tile, with no horizontal sum per key, and a decode step streams the cache in order.
 * Values are (NH, maxT, hs): a position's value row is what the weighted sum reads. Here maxT is the
 * capacity of one sequence's cache, which may be less than the model's context.
 *
 * <p>The rows of a batch belong to many sequences; each call takes the rows [row0, row0 + T) of one
 * sequence, at its consecutive positions [pos0, pos0 + T), against that sequence's cache.
 */
public final class Attention {
    private Attention() {}

    /** Floats of one layer's key cache: whole tiles, so maxT rounded up to the vector width. */
    public static long keyCacheFloats(int C, int maxT) {
        return (long) C * blocks(maxT) * Simd.LANES;
    }

    /** Floats of attention scratch for one thread: maxT rounded up to the vector width. */
    public static int scoreFloats(int maxT) {
        return blocks(maxT) * Simd.LANES;
    }

    private static int blocks(int maxT) {
        return (maxT + Simd.LANES - 1) / Simd.LANES;
    }

    /**
     * Copies the key and value of each (row, head) item in [from, to) into the cache: item t * NH + h is head h of
     * row row0 + t, at position pos0 + t, numbered as in {@link #forward} so the threads that split one can split
     * the other. qkv (rows,3C): each row is [q (C) | k (C) | v (C)], heads side by side within each part.
     * keys (NH, blocks, hs, L), values (NH, maxT, hs).
     */
    public static void storeKeysValues(MemorySegment keys, MemorySegment values, MemorySegment qkv,
                                       int row0, int pos0, int C, int NH, int maxT, int from, int to) {
        int hs = C / NH, lanes = Simd.LANES, blocks = blocks(maxT);
        for (int item = from; item < to; item++) {
            int t = item / NH, h = item % NH, pos = pos0 + t;
            long row = (long) (row0 + t) * 3 * C;
            long k = row + C + (long) h * hs, v = row + 2 * C + (long) h * hs;
            long tile = ((long) h * blocks + pos / lanes) * hs * lanes + pos % lanes;
            for (int d = 0; d < hs; d++) {
                keys.setAtIndex(FLOAT, tile + (long) d * lanes, qkv.getAtIndex(FLOAT, k + d));
            }
            Simd.copy(qkv, v, values, ((long) h * maxT + pos) * hs, hs);
        }
    }

    /**
     * out[r, h] = softmax(q[r,h] · K[h, 0..pos]ᵀ / sqrt(hs)) · V[h, 0..pos] for rows r = row0 + t at
     * pos = pos0 + t: each query sees itself and every earlier position of its sequence, never a later one.
     * Work items [from, to) number the (query row, head) pairs t * NH + h, so threads can split them.
     * qkv (rows,3C), keys (NH, blocks, hs, L), values (NH, maxT, hs), out (rows,C);
     * scores: scratch of at least {@link #scoreFloats}(pos0 + T) floats, owned by the calling thread.
     */
    public static void forward(MemorySegment out, MemorySegment qkv, MemorySegment keys, MemorySegment values,
                               MemorySegment scores, int row0, int pos0, int C, int NH, int maxT, int from, int to) {
        int hs = C / NH, blocks = blocks(maxT);
        if (from < to) {
            int rows = (to - 1) / NH + 1, positions = pos0 + rows;
            if (from < 0 || pos0 < 0 || positions > maxT) {
                throw new IndexOutOfBoundsException("items [" + from + ", " + to + ") at position " + pos0 + " in a cache of " + maxT);
            }
            Simd.requireFloats(keys, keyCacheFloats(C, maxT));
            Simd.requireFloats(values, (long) C * maxT);
            Simd.requireFloats(out, (long) (row0 + rows) * C);
            Simd.requireFloats(scores, scoreFloats(positions));
        }
        float scale = (float) (1.0 / Math.sqrt(hs));
        for (int item = from; item < to; item++) {
            int t = item / NH, h = item % NH;
            int n = pos0 + t + 1;
            long q = (long) (row0 + t) * 3 * C + (long) h * hs;
            long keyHead = (long) h * blocks * hs * Simd.LANES, valueHead = (long) h * maxT * hs;
            scores(scores, qkv, q, keys, keyHead, hs, n, scale);
            Softmax.inPlace(scores, n);
            weightedValues(out, (long) (row0 + t) * C + (long) h * hs, scores, values, valueHead, hs, n);
        }
    }

    /**
     * scores[j] = scale * q · K[j] for j in [0, n), a whole tile of L positions at a time; the last tile's
     * lanes past n hold whatever the cache held there and are never read. Four tiles go together, so each
     * broadcast of q[d] feeds four FMAs and four independent chains are in flight; the tiles left over
     * go one by one, with four accumulators over d instead.
     */
    private static void scores(MemorySegment scores, MemorySegment qkv, long q, MemorySegment keys, long keyHead,
                               int hs, int n, float scale) {
        int lanes = F.length();
        long tile = (long) hs * lanes; // floats of one tile: hs rows of L positions
        int tiles = (n + lanes - 1) / lanes;
        int b = 0;
        for (; b + 4 <= tiles; b += 4) {
            long k0 = keyHead + b * tile, k1 = k0 + tile, k2 = k1 + tile, k3 = k2 + tile;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            for (int d = 0; d < hs; d++) {
                FloatVector qd = FloatVector.broadcast(F, qkv.getAtIndex(FLOAT, q + d));
                long row = (long) d * lanes;
                a0 = FloatVector.fromMemorySegment(F, keys, at(k0 + row), LE).fma(qd, a0);
                a1 = FloatVector.fromMemorySegment(F, keys, at(k1 + row), LE).fma(qd, a1);
                a2 = FloatVector.fromMemorySegment(F, keys, at(k2 + row), LE).fma(qd, a2);
                a3 = FloatVector.fromMemorySegment(F, keys, at(k3 + row), LE).fma(qd, a3);
            }
            long j = (long) b * lanes;
            a0.mul(scale).intoMemorySegment(scores, at(j), LE);
            a1.mul(scale).intoMemorySegment(scores, at(j + lanes), LE);
            a2.mul(scale).intoMemorySegment(scores, at(j + 2 * lanes), LE);
            a3.mul(scale).intoMemorySegment(scores, at(j + 3 * lanes), LE);
        }
        for (; b < tiles; b++) {
            long k = keyHead + b * tile;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            int d = 0;
            for (; d + 4 <= hs; d += 4) {
                long row = k + (long) d * lanes;
                a0 = FloatVector.fromMemorySegment(F, keys, at(row), LE)
                        .fma(FloatVector.broadcast(F, qkv.getAtIndex(FLOAT, q + d)), a0);
                a1 = FloatVector.fromMemorySegment(F, keys, at(row + lanes), LE)
                        .fma(FloatVector.broadcast(F, qkv.getAtIndex(FLOAT, q + d + 1)), a1);
                a2 = FloatVector.fromMemorySegment(F, keys, at(row + 2 * lanes), LE)
                        .fma(FloatVector.broadcast(F, qkv.getAtIndex(FLOAT, q + d + 2)), a2);
                a3 = FloatVector.fromMemorySegment(F, keys, at(row + 3 * lanes), LE)
                        .fma(FloatVector.broadcast(F, qkv.getAtIndex(FLOAT, q + d + 3)), a3);
            }
            for (; d < hs; d++) {
                a0 = FloatVector.fromMemorySegment(F, keys, at(k + (long) d * lanes), LE)
                        .fma(FloatVector.broadcast(F, qkv.getAtIndex(FLOAT, q + d)), a0);
            }
            a0.add(a1).add(a2.add(a3)).mul(scale).intoMemorySegment(scores, at((long) b * lanes), LE);
        }
    }

    /**
     * out[0..hs) = sum over j < n of weights[j] * V[j, 0..hs). Four vectors of a head's value row go together
     * (a head of 64 is exactly four at 512-bit), so each broadcast weight feeds four FMAs; narrower
     * leftovers go one vector at a time with four accumulators over j, then scalar.
     */
    private static void weightedValues(MemorySegment out, long outHead, MemorySegment weights,
                                       MemorySegment values, long valueHead, int hs, int n) {
        int v = F.length();
        int d = 0;
        for (; d + 4 * v <= hs; d += 4 * v) {
            long column = valueHead + d;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            for (int j = 0; j < n; j++) {
                FloatVector w = FloatVector.broadcast(F, weights.getAtIndex(FLOAT, j));
                long at = column + (long) j * hs;
                a0 = FloatVector.fromMemorySegment(F, values, at(at), LE).fma(w, a0);
                a1 = FloatVector.fromMemorySegment(F, values, at(at + v), LE).fma(w, a1);
                a2 = FloatVector.fromMemorySegment(F, values, at(at + 2 * v), LE).fma(w, a2);
                a3 = FloatVector.fromMemorySegment(F, values, at(at + 3 * v), LE).fma(w, a3);
            }
            long o = outHead + d;
            a0.intoMemorySegment(out, at(o), LE);
            a1.intoMemorySegment(out, at(o + v), LE);
            a2.intoMemorySegment(out, at(o + 2 * v), LE);
            a3.intoMemorySegment(out, at(o + 3 * v), LE);
        }
        for (; d < F.loopBound(hs); d += v) {
            long column = valueHead + d;
            FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
            int j = 0;
            for (; j + 4 <= n; j += 4) {
                long row = column + (long) j * hs;
                a0 = FloatVector.fromMemorySegment(F, values, at(row), LE)
                        .fma(FloatVector.broadcast(F, weights.getAtIndex(FLOAT, j)), a0);
                a1 = FloatVector.fromMemorySegment(F, values, at(row + hs), LE)
                        .fma(FloatVector.broadcast(F, weights.getAtIndex(FLOAT, j + 1)), a1);
                a2 = FloatVector.fromMemorySegment(F, values, at(row + 2L * hs), LE)
                        .fma(FloatVector.broadcast(F, weights.getAtIndex(FLOAT, j + 2)), a2);
                a3 = FloatVector.fromMemorySegment(F, values, at(row + 3L * hs), LE)
                        .fma(FloatVector.broadcast(F, weights.getAtIndex(FLOAT, j + 3)), a3);
            }
            for (; j < n; j++) {
                a0 = FloatVector.fromMemorySegment(F, values, at(column + (long) j * hs), LE)
                        .fma(FloatVector.broadcast(F, weights.getAtIndex(FLOAT, j)), a0);
            }
            a0.add(a1).add(a2.add(a3)).intoMemorySegment(out, at(outHead + d), LE);
        }
        for (; d < hs; d++) {
            long column = valueHead + d;
            float acc = 0f;
            for (int j = 0; j < n; j++) {
                acc += weights.getAtIndex(FLOAT, j) * values.getAtIndex(FLOAT, column + (long) j * hs);
            }
            out.setAtIndex(FLOAT, outHead + d, acc);
        }
    }
}
