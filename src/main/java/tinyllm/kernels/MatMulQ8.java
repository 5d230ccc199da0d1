package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import tinyllm.model.Matrix;

import static jdk.incubator.vector.VectorOperators.B2F;
import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.INT8;
import static tinyllm.kernels.Simd.LE;
import static tinyllm.kernels.Simd.Q;
import static tinyllm.kernels.Simd.at;

/**
 * The linear layers with q8 weights: int8 elements in blocks of {@link Matrix#block} per row, each block with
 * an fp32 scale, read in place and widened to fp32 in registers; inputs, accumulation and outputs are fp32.
 *
 * <p>Decode reads a quarter of fp32's bytes, so the instructions per weight decide the speed: each weight
 * vector is a load of {@link Simd#LANES} bytes widened to floats (one sign-extend and one convert), one FMA
 * against the input, and per block one more FMA applies the block's scale to the block's partial sum, so the
 * scale costs one multiply per block, not per weight. The Vector API has no int8 dot product instruction;
 * widening in registers is its path. A batch of rows too few for the GEMM widens four weight rows once into
 * scratch and runs the fp32 kernel over them, so the widening is paid once per step, not once per row.
 */
public final class MatMulQ8 {
    private MatMulQ8() {}

    /** {@link MatMul#forward} for q8 weights (scratch: {@link MatMul#scratchFloats} floats). */
    static void forward(MemorySegment out, MemorySegment in, Matrix weight, MemorySegment bias,
                        int T, int C, int OC, int ocFrom, int ocTo, MemorySegment scratch) {
        int o = ocFrom;
        if (MatMul.packs(T)) {
            for (; o + MatMul.PANEL <= ocTo; o += MatMul.PANEL) {
                MatMul.gemmPanel(out, in, weight, bias, T, C, OC, o, scratch);
            }
        }
        boolean vectors = weight.block() % (2 * F.length()) == 0;
        for (; o + MatMul.ROWS <= ocTo; o += MatMul.ROWS) {
            if (T >= MatMul.ROWS && vectors) {
                // A batch: four weight rows widened once, then every input row against them as fp32.
                widen4(scratch, weight, o, C);
                int t = 0;
                for (; t + MatMul.ROWS <= T; t += MatMul.ROWS) {
                    MatMul.dot4x4(out, in, scratch, 0, bias, t, C, OC, o);
                }
                for (; t < T; t++) {
                    MatMul.dot4(out, in, scratch, 0, bias, t, C, OC, o);
                }
            } else {
                for (int t = 0; t < T; t++) {
                    if (vectors) {
                        dot4(out, in, weight, bias, t, C, OC, o);
                    } else {
                        for (int r = 0; r < MatMul.ROWS; r++) dot1(out, in, weight, bias, t, C, OC, o + r);
                    }
                }
            }
        }
        for (; o < ocTo; o++) {
            for (int t = 0; t < T; t++) {
                dot1(out, in, weight, bias, t, C, OC, o);
            }
        }
    }

    /**
     * out[t, o..o+3] = in[t] · weight[o..o+3] + bias[o..o+3], for a block that is a whole number of pairs of
     * vectors (GPT-2's 32 at 512 or 256 bits): per block, four partial sums of int8 × input, each added to its
     * row's sum times the row's block scale. A block's sums start from a multiply, not from zero, and its first
     * pair of vectors is written out rather than looped over: measured streaming 124M-shaped rows from memory,
     * that took one thread from ~9 to ~15 billion weights/s.
     */
    private static void dot4(MemorySegment out, MemorySegment in, Matrix weight, MemorySegment bias,
                             int t, int C, int OC, int o) {
        MemorySegment q = weight.data(), scales = weight.scales();
        int block = weight.block(), blocks = C / block, L = F.length();
        long x = (long) t * C;
        long q0 = (long) o * C, q1 = q0 + C, q2 = q1 + C, q3 = q2 + C;
        long s0 = (long) o * blocks, s1 = s0 + blocks, s2 = s1 + blocks, s3 = s2 + blocks;
        // No Simd.faultable here: the scalar reads of the scales already make this method one that may fault, and
        // the extra read cost a third of the speed (measured: 9.5 against 14 billion weights/s on one thread).
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        for (int b = 0; b < blocks; b++) {
            int i = b * block;
            FloatVector x0 = FloatVector.fromMemorySegment(F, in, at(x + i), LE), x1 = FloatVector.fromMemorySegment(F, in, at(x + i + L), LE);
            // Widened in place, not by a helper: a helper C2 once compiled on its own (big, with the Vector API's
            // fallbacks) is no longer inlined, and then every widened vector is a heap object (seen with AVX2).
            FloatVector w0 = (FloatVector) ByteVector.fromMemorySegment(Q, q, q0 + i, LE).convertShape(B2F, F, 0);
            FloatVector w1 = (FloatVector) ByteVector.fromMemorySegment(Q, q, q1 + i, LE).convertShape(B2F, F, 0);
            FloatVector w2 = (FloatVector) ByteVector.fromMemorySegment(Q, q, q2 + i, LE).convertShape(B2F, F, 0);
            FloatVector w3 = (FloatVector) ByteVector.fromMemorySegment(Q, q, q3 + i, LE).convertShape(B2F, F, 0);
            FloatVector p0 = w0.mul(x0), p1 = w1.mul(x0), p2 = w2.mul(x0), p3 = w3.mul(x0);
            w0 = (FloatVector) ByteVector.fromMemorySegment(Q, q, q0 + i + L, LE).convertShape(B2F, F, 0);
            w1 = (FloatVector) ByteVector.fromMemorySegment(Q, q, q1 + i + L, LE).convertShape(B2F, F, 0);
            w2 = (FloatVector) ByteVector.fromMemorySegment(Q, q, q2 + i + L, LE).convertShape(B2F, F, 0);
            w3 = (FloatVector) ByteVector.fromMemorySegment(Q, q, q3 + i + L, LE).convertShape(B2F, F, 0);
            p0 = w0.fma(x1, p0);
            p1 = w1.fma(x1, p1);
            p2 = w2.fma(x1, p2);
            p3 = w3.fma(x1, p3);
            for (int j = i + 2 * L, end = i + block; j < end; j += L) { // blocks of more than two vectors (AVX2: four)
                FloatVector xj = FloatVector.fromMemorySegment(F, in, at(x + j), LE);
                w0 = (FloatVector) ByteVector.fromMemorySegment(Q, q, q0 + j, LE).convertShape(B2F, F, 0);
                w1 = (FloatVector) ByteVector.fromMemorySegment(Q, q, q1 + j, LE).convertShape(B2F, F, 0);
                w2 = (FloatVector) ByteVector.fromMemorySegment(Q, q, q2 + j, LE).convertShape(B2F, F, 0);
                w3 = (FloatVector) ByteVector.fromMemorySegment(Q, q, q3 + j, LE).convertShape(B2F, F, 0);
                p0 = w0.fma(xj, p0);
                p1 = w1.fma(xj, p1);
                p2 = w2.fma(xj, p2);
                p3 = w3.fma(xj, p3);
            }
            a0 = p0.fma(FloatVector.broadcast(F, scales.getAtIndex(FLOAT, s0 + b)), a0);
            a1 = p1.fma(FloatVector.broadcast(F, scales.getAtIndex(FLOAT, s1 + b)), a1);
            a2 = p2.fma(FloatVector.broadcast(F, scales.getAtIndex(FLOAT, s2 + b)), a2);
            a3 = p3.fma(FloatVector.broadcast(F, scales.getAtIndex(FLOAT, s3 + b)), a3);
        }
        MatMul.store4(out, bias, t, OC, o, a0.reduceLanes(VectorOperators.ADD), a1.reduceLanes(VectorOperators.ADD),
                a2.reduceLanes(VectorOperators.ADD), a3.reduceLanes(VectorOperators.ADD));
    }

    /**
     * scratch (4, C) = weight[o..o+3] as fp32 (block a whole number of pairs of vectors): four rows widened once for a
     * batch of input rows to share.
     */
    private static void widen4(MemorySegment scratch, Matrix weight, int o, int C) {
        MemorySegment q = weight.data(), scales = weight.scales();
        int block = weight.block(), blocks = C / block;
        Simd.faultable(q, (long) o * C);
        for (int r = 0; r < MatMul.ROWS; r++) {
            long row = (long) (o + r) * C, to = (long) r * C;
            for (int b = 0; b < blocks; b++) {
                FloatVector scale = FloatVector.broadcast(F, scales.getAtIndex(FLOAT, (long) (o + r) * blocks + b));
                for (int i = b * block, end = i + block; i < end; i += F.length()) {
                    ((FloatVector) ByteVector.fromMemorySegment(Q, q, row + i, LE).convertShape(B2F, F, 0)).mul(scale).intoMemorySegment(scratch, at(to + i), LE);
                }
            }
        }
    }

    /** out[t, o] = in[t] · weight[o] + bias[o] one element at a time: leftover channels, and blocks narrower than two vectors. */
    private static void dot1(MemorySegment out, MemorySegment in, Matrix weight, MemorySegment bias,
                             int t, int C, int OC, int o) {
        MemorySegment q = weight.data(), scales = weight.scales();
        int block = weight.block(), blocks = C / block;
        long x = (long) t * C, row = (long) o * C;
        float s = 0;
        for (int b = 0; b < blocks; b++) {
            float partial = 0;
            for (int i = b * block, end = i + block; i < end; i++) {
                partial += q.get(INT8, row + i) * in.getAtIndex(FLOAT, x + i);
            }
            s += partial * scales.getAtIndex(FLOAT, (long) o * blocks + b);
        }
        if (bias != null) {
            s += bias.getAtIndex(FLOAT, o);
        }
        out.setAtIndex(FLOAT, (long) t * OC + o, s);
    }
}
