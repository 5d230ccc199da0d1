package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import tinyllm.model.Matrix;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.I;
import static tinyllm.kernels.Simd.LE;
import static tinyllm.kernels.Simd.at;
import static tinyllm.kernels.Simd.bf16At;

/**
 * The linear layers with bf16 weights: the weights stay bf16 in the mapped file and are widened to fp32
 * in registers; inputs, accumulation and outputs are fp32, as with {@link MatMul}.
 *
 * <p>At decode the widening must cost as little as possible, because halving the bytes only helps if
 * the instructions keep up. A vector of ints holds two bf16 weights per lane, the even element in the
 * low half (little-endian): {@code << 16} turns the even ones into fp32 and {@code & 0xFFFF0000} the odd
 * ones, with no shuffle. The input is split once per call into its even and odd elements to match
 * ({@link #splitEvenOdd}), so each half meets its inputs lane for lane.
 */
public final class MatMulBf16 {
    private static final int HIGH_HALF = 0xFFFF0000;

    private MatMulBf16() {}

    /**
     * inSplit (T,C): each row of in (T,C) rearranged as [in[0], in[2], ... | in[1], in[3], ...], the first
     * half holding the ceil(C/2) even elements. Run once per matmul (the rows shared among the threads), before
     * the threads split the channels.
     */
    public static void splitEvenOdd(MemorySegment inSplit, MemorySegment in, int T, int C) {
        splitEvenOdd(inSplit, in, 0, T, C);
    }

    /** {@link #splitEvenOdd(MemorySegment, MemorySegment, int, int)} for rows [from, to) only, so threads can share it. */
    public static void splitEvenOdd(MemorySegment inSplit, MemorySegment in, int from, int to, int C) {
        int half = (C + 1) / 2, pairs = C / 2;
        for (int t = from; t < to; t++) {
            long row = (long) t * C, odd = row + half;
            for (int p = 0; p < half; p++) {
                inSplit.setAtIndex(FLOAT, row + p, in.getAtIndex(FLOAT, row + 2L * p));
            }
            for (int p = 0; p < pairs; p++) {
                inSplit.setAtIndex(FLOAT, odd + p, in.getAtIndex(FLOAT, row + 2L * p + 1));
            }
        }
    }

    /**
     * out (T,OC) = in (T,C) · weight (OC,C)ᵀ + bias (OC) with weight in bf16, for output channels
     * [ocFrom, ocTo). inSplit: in after {@link #splitEvenOdd} (read by the decode path). Other arguments as
     * {@link MatMul#forward}, the one entry.
     */
    static void forward(MemorySegment out, MemorySegment in, MemorySegment inSplit, Matrix matrix,
                        MemorySegment bias, int T, int C, int OC, int ocFrom, int ocTo, MemorySegment packed) {
        MemorySegment weight = matrix.data();
        int o = ocFrom;
        if (MatMul.packs(T)) {
            for (; o + MatMul.PANEL <= ocTo; o += MatMul.PANEL) {
                MatMul.gemmPanel(out, in, matrix, bias, T, C, OC, o, packed);
            }
        }
        if (T >= MatMul.ROWS) {
            // Rows enough to keep the FMAs busy: four weight rows at a time against each input row, so each input
            // load serves four. With fewer (decode), each weight row is read front to back on its own, below.
            for (; o + MatMul.ROWS <= ocTo; o += MatMul.ROWS) {
                for (int t = 0; t < T; t++) {
                    dot4(out, inSplit, weight, bias, t, C, OC, o);
                }
            }
        }
        for (; o < ocTo; o++) {
            for (int t = 0; t < T; t++) {
                dot1(out, inSplit, weight, bias, t, C, OC, o);
            }
        }
    }

    /** out[t, o..o+3] = in[t] · weight[o..o+3] + bias: four bf16 rows against one split input row. */
    private static void dot4(MemorySegment out, MemorySegment inSplit, MemorySegment weight, MemorySegment bias,
                             int t, int C, int OC, int o) {
        int pairs = C / 2, half = (C + 1) / 2;
        long even = (long) t * C, odd = even + half;
        long w0 = (long) o * C, w1 = w0 + C, w2 = w1 + C, w3 = w2 + C;
        Simd.faultable(weight, bf16At(w0));
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F), b1 = FloatVector.zero(F), b2 = FloatVector.zero(F), b3 = FloatVector.zero(F);
        int p = 0;
        for (; p < I.loopBound(pairs); p += I.length()) {
            FloatVector xe = FloatVector.fromMemorySegment(F, inSplit, at(even + p), LE);
            FloatVector xo = FloatVector.fromMemorySegment(F, inSplit, at(odd + p), LE);
            IntVector v0 = IntVector.fromMemorySegment(I, weight, bf16At(w0 + 2L * p), LE);
            IntVector v1 = IntVector.fromMemorySegment(I, weight, bf16At(w1 + 2L * p), LE);
            IntVector v2 = IntVector.fromMemorySegment(I, weight, bf16At(w2 + 2L * p), LE);
            IntVector v3 = IntVector.fromMemorySegment(I, weight, bf16At(w3 + 2L * p), LE);
            a0 = v0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a0);
            b0 = v0.and(HIGH_HALF).reinterpretAsFloats().fma(xo, b0);
            a1 = v1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a1);
            b1 = v1.and(HIGH_HALF).reinterpretAsFloats().fma(xo, b1);
            a2 = v2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a2);
            b2 = v2.and(HIGH_HALF).reinterpretAsFloats().fma(xo, b2);
            a3 = v3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a3);
            b3 = v3.and(HIGH_HALF).reinterpretAsFloats().fma(xo, b3);
        }
        float s0 = a0.add(b0).reduceLanes(VectorOperators.ADD), s1 = a1.add(b1).reduceLanes(VectorOperators.ADD);
        float s2 = a2.add(b2).reduceLanes(VectorOperators.ADD), s3 = a3.add(b3).reduceLanes(VectorOperators.ADD);
        for (int i = 2 * p; i < C; i++) {
            float x = input(inSplit, t, C, i);
            s0 += Simd.bf16(weight, w0 + i) * x;
            s1 += Simd.bf16(weight, w1 + i) * x;
            s2 += Simd.bf16(weight, w2 + i) * x;
            s3 += Simd.bf16(weight, w3 + i) * x;
        }
        MatMul.store4(out, bias, t, OC, o, s0, s1, s2, s3);
    }

    /**
     * out[t, o] for one bf16 row, read front to back: decode's kernel (fewer than four input rows), and the
     * channels left over when OC is not a multiple of four. Decode reads rows one at a time, not four side by
     * side as {@link #dot4} does: four rows read together are four streams of 1.5 KB, and at bf16's instructions
     * per byte the core waits on what the prefetcher did not fetch ahead (as with q8: see MatMulQ8.dot).
     * Measured on the 124M shape, 2 threads: over 123M weights, alternating in one JVM, median 28.8 -> 37.7 GB/s
     * (eight pairs); decode steps alternating in one JVM 6.5-7.1 -> 4.9-5.7 ms; bench --quick decode at context
     * 128, two alternating pairs of jars, 98.3/100.1 -> 135.9/126.8 tokens/s.
     */
    private static void dot1(MemorySegment out, MemorySegment inSplit, MemorySegment weight, MemorySegment bias,
                             int t, int C, int OC, int o) {
        int pairs = C / 2, half = (C + 1) / 2;
        long even = (long) t * C, odd = even + half;
        long w = (long) o * C;
        Simd.faultable(weight, bf16At(w));
        FloatVector a = FloatVector.zero(F), b = FloatVector.zero(F);
        int p = 0;
        for (; p < I.loopBound(pairs); p += I.length()) {
            IntVector v = IntVector.fromMemorySegment(I, weight, bf16At(w + 2L * p), LE);
            a = v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromMemorySegment(F, inSplit, at(even + p), LE), a);
            b = v.and(HIGH_HALF).reinterpretAsFloats().fma(FloatVector.fromMemorySegment(F, inSplit, at(odd + p), LE), b);
        }
        float s = a.add(b).reduceLanes(VectorOperators.ADD);
        for (int i = 2 * p; i < C; i++) {
            s += Simd.bf16(weight, w + i) * input(inSplit, t, C, i);
        }
        MatMul.store1(out, bias, t, OC, o, s);
    }

    /** Element i of row t of the original input, read back from its split layout. */
    private static float input(MemorySegment inSplit, int t, int C, int i) {
        int half = (C + 1) / 2;
        return inSplit.getAtIndex(FLOAT, (long) t * C + (i % 2 == 0 ? i / 2 : half + i / 2));
    }
}
