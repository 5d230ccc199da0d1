package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;

/** The linear layers: every weight matrix of the model goes through here, so it sets the speed. */
public final class MatMul {
    /** Output channels computed together: each loaded input vector is reused for this many weight rows. */
    public static final int ROWS = 4;

    private MatMul() {}

    /**
     * out (T,OC) = in (T,C) · weight (OC,C)ᵀ + bias (OC), for output channels [ocFrom, ocTo) only, so
     * threads can split the channels. bias may be null (the logits have none).
     *
     * <p>Four weight rows are streamed together against one input row: at decode (T = 1) the kernel is
     * limited by reading the weights, and sharing each input load among four rows, with two independent
     * accumulators per row, is what lets it stream at memory speed.
     */
    public static void forward(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias,
                               int T, int C, int OC, int ocFrom, int ocTo) {
        int o = ocFrom;
        for (; o + ROWS <= ocTo; o += ROWS) {
            for (int t = 0; t < T; t++) {
                dot4(out, in, weight, bias, t, C, OC, o);
            }
        }
        for (; o < ocTo; o++) {
            for (int t = 0; t < T; t++) {
                dot1(out, in, weight, bias, t, C, OC, o);
            }
        }
    }

    /** out[t, o..o+3] = in[t] · weight[o..o+3] + bias[o..o+3]. */
    private static void dot4(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias,
                             int t, int C, int OC, int o) {
        long x = (long) t * C * Float.BYTES;
        long w0 = (long) o * C * Float.BYTES, w1 = w0 + (long) C * Float.BYTES,
                w2 = w1 + (long) C * Float.BYTES, w3 = w2 + (long) C * Float.BYTES;
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F), b1 = FloatVector.zero(F), b2 = FloatVector.zero(F), b3 = FloatVector.zero(F);
        int step = F.length();
        int upper2 = C - C % (2 * step);
        int i = 0;
        for (; i < upper2; i += 2 * step) {
            long e = (long) i * Float.BYTES, f = e + (long) step * Float.BYTES;
            FloatVector xe = FloatVector.fromMemorySegment(F, in, x + e, LE);
            FloatVector xf = FloatVector.fromMemorySegment(F, in, x + f, LE);
            a0 = FloatVector.fromMemorySegment(F, weight, w0 + e, LE).fma(xe, a0);
            a1 = FloatVector.fromMemorySegment(F, weight, w1 + e, LE).fma(xe, a1);
            a2 = FloatVector.fromMemorySegment(F, weight, w2 + e, LE).fma(xe, a2);
            a3 = FloatVector.fromMemorySegment(F, weight, w3 + e, LE).fma(xe, a3);
            b0 = FloatVector.fromMemorySegment(F, weight, w0 + f, LE).fma(xf, b0);
            b1 = FloatVector.fromMemorySegment(F, weight, w1 + f, LE).fma(xf, b1);
            b2 = FloatVector.fromMemorySegment(F, weight, w2 + f, LE).fma(xf, b2);
            b3 = FloatVector.fromMemorySegment(F, weight, w3 + f, LE).fma(xf, b3);
        }
        for (; i < F.loopBound(C); i += step) {
            long e = (long) i * Float.BYTES;
            FloatVector xe = FloatVector.fromMemorySegment(F, in, x + e, LE);
            a0 = FloatVector.fromMemorySegment(F, weight, w0 + e, LE).fma(xe, a0);
            a1 = FloatVector.fromMemorySegment(F, weight, w1 + e, LE).fma(xe, a1);
            a2 = FloatVector.fromMemorySegment(F, weight, w2 + e, LE).fma(xe, a2);
            a3 = FloatVector.fromMemorySegment(F, weight, w3 + e, LE).fma(xe, a3);
        }
        float s0 = a0.add(b0).reduceLanes(VectorOperators.ADD), s1 = a1.add(b1).reduceLanes(VectorOperators.ADD);
        float s2 = a2.add(b2).reduceLanes(VectorOperators.ADD), s3 = a3.add(b3).reduceLanes(VectorOperators.ADD);
        for (; i < C; i++) {
            long e = (long) i * Float.BYTES;
            float xi = in.get(FLOAT, x + e);
            s0 += weight.get(FLOAT, w0 + e) * xi;
            s1 += weight.get(FLOAT, w1 + e) * xi;
            s2 += weight.get(FLOAT, w2 + e) * xi;
            s3 += weight.get(FLOAT, w3 + e) * xi;
        }
        if (bias != null) {
            long b = (long) o * Float.BYTES;
            s0 += bias.get(FLOAT, b);
            s1 += bias.get(FLOAT, b + Float.BYTES);
            s2 += bias.get(FLOAT, b + 2 * Float.BYTES);
            s3 += bias.get(FLOAT, b + 3 * Float.BYTES);
        }
        long y = ((long) t * OC + o) * Float.BYTES;
        out.set(FLOAT, y, s0);
        out.set(FLOAT, y + Float.BYTES, s1);
        out.set(FLOAT, y + 2 * Float.BYTES, s2);
        out.set(FLOAT, y + 3 * Float.BYTES, s3);
    }

    /** out[t, o] = in[t] · weight[o] + bias[o]: the rows left over when OC is not a multiple of four. */
    private static void dot1(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias,
                             int t, int C, int OC, int o) {
        long x = (long) t * C * Float.BYTES;
        long w = (long) o * C * Float.BYTES;
        FloatVector a = FloatVector.zero(F);
        int i = 0;
        for (; i < F.loopBound(C); i += F.length()) {
            long e = (long) i * Float.BYTES;
            a = FloatVector.fromMemorySegment(F, weight, w + e, LE).fma(FloatVector.fromMemorySegment(F, in, x + e, LE), a);
        }
        float s = a.reduceLanes(VectorOperators.ADD);
        for (; i < C; i++) {
            long e = (long) i * Float.BYTES;
            s += weight.get(FLOAT, w + e) * in.get(FLOAT, x + e);
        }
        if (bias != null) {
            s += bias.get(FLOAT, (long) o * Float.BYTES);
        }
        out.set(FLOAT, ((long) t * OC + o) * Float.BYTES, s);
    }
}
