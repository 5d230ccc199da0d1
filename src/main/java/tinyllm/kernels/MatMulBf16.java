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
            long row = (long) t * C * Float.BYTES, odd = row + (long) half * Float.BYTES;
            for (int p = 0; p < half; p++) {
                inSplit.set(FLOAT, row + (long) p * Float.BYTES, in.get(FLOAT, row + (long) p * 2 * Float.BYTES));
            }
            for (int p = 0; p < pairs; p++) {
                inSplit.set(FLOAT, odd + (long) p * Float.BYTES, in.get(FLOAT, row + ((long) p * 2 + 1) * Float.BYTES));
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
        for (; o + MatMul.ROWS <= ocTo; o += MatMul.ROWS) {
            for (int t = 0; t < T; t++) {
                dot4(out, inSplit, weight, bias, t, C, OC, o);
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
        long even = (long) t * C * Float.BYTES, odd = even + (long) half * Float.BYTES;
        long rowBytes = (long) C * Short.BYTES;
        long w0 = (long) o * rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        Simd.faultable(weight, w0);
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F), b1 = FloatVector.zero(F), b2 = FloatVector.zero(F), b3 = FloatVector.zero(F);
        int p = 0;
        for (; p < I.loopBound(pairs); p += I.length()) {
            long wp = (long) p * Integer.BYTES, xp = (long) p * Float.BYTES;
            FloatVector xe = FloatVector.fromMemorySegment(F, inSplit, even + xp, LE);
            FloatVector xo = FloatVector.fromMemorySegment(F, inSplit, odd + xp, LE);
            IntVector v0 = IntVector.fromMemorySegment(I, weight, w0 + wp, LE);
            IntVector v1 = IntVector.fromMemorySegment(I, weight, w1 + wp, LE);
            IntVector v2 = IntVector.fromMemorySegment(I, weight, w2 + wp, LE);
            IntVector v3 = IntVector.fromMemorySegment(I, weight, w3 + wp, LE);
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
            s0 += Simd.bf16(weight, (long) o * C + i) * x;
            s1 += Simd.bf16(weight, (long) (o + 1) * C + i) * x;
            s2 += Simd.bf16(weight, (long) (o + 2) * C + i) * x;
            s3 += Simd.bf16(weight, (long) (o + 3) * C + i) * x;
        }
        MatMul.store4(out, bias, t, OC, o, s0, s1, s2, s3);
    }

    /** out[t, o] for one bf16 row: the channels left over when OC is not a multiple of four. */
    private static void dot1(MemorySegment out, MemorySegment inSplit, MemorySegment weight, MemorySegment bias,
                             int t, int C, int OC, int o) {
        int pairs = C / 2, half = (C + 1) / 2;
        long even = (long) t * C * Float.BYTES, odd = even + (long) half * Float.BYTES;
        long w = (long) o * C * Short.BYTES;
        Simd.faultable(weight, w);
        FloatVector a = FloatVector.zero(F), b = FloatVector.zero(F);
        int p = 0;
        for (; p < I.loopBound(pairs); p += I.length()) {
            long xp = (long) p * Float.BYTES;
            IntVector v = IntVector.fromMemorySegment(I, weight, w + (long) p * Integer.BYTES, LE);
            a = v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromMemorySegment(F, inSplit, even + xp, LE), a);
            b = v.and(HIGH_HALF).reinterpretAsFloats().fma(FloatVector.fromMemorySegment(F, inSplit, odd + xp, LE), b);
        }
        float s = a.add(b).reduceLanes(VectorOperators.ADD);
        for (int i = 2 * p; i < C; i++) {
            s += Simd.bf16(weight, (long) o * C + i) * input(inSplit, t, C, i);
        }
        if (bias != null) {
            s += bias.get(FLOAT, (long) o * Float.BYTES);
        }
        out.set(FLOAT, ((long) t * OC + o) * Float.BYTES, s);
    }

    /** Element i of row t of the original input, read back from its split layout. */
    private static float input(MemorySegment inSplit, int t, int C, int i) {
        int half = (C + 1) / 2;
        return inSplit.get(FLOAT, ((long) t * C + (i % 2 == 0 ? i / 2 : half + i / 2)) * Float.BYTES);
    }
}
