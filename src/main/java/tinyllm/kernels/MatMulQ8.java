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
        if (T >= MatMul.ROWS && vectors) {
            // A batch: four weight rows widened once, then every input row against them as fp32.
            for (; o + MatMul.ROWS <= ocTo; o += MatMul.ROWS) {
                widen4(scratch, weight, o, C);
                int t = 0;
                for (; t + MatMul.ROWS <= T; t += MatMul.ROWS) {
                    MatMul.dot4x4(out, in, scratch, 0, bias, t, C, OC, o);
                }
                for (; t < T; t++) {
                    MatMul.dot4(out, in, scratch, 0, bias, t, C, OC, o);
                }
            }
        }
        // Decode (fewer rows than four), blocks narrower than two vectors, and the channels left over: one weight
        // row at a time.
        for (; o < ocTo; o++) {
            for (int t = 0; t < T; t++) {
                if (vectors) {
                    dot(out, in, weight, bias, t, C, OC, o);
                } else {
                    dot1(out, in, weight, bias, t, C, OC, o);
                }
            }
        }
    }

    /**
     * out[t, o] = in[t] · weight[o] + bias[o], for a block that is a whole number of pairs of vectors (GPT-2's 32
     * at 512 or 256 bits): the row read front to back, two blocks at a time, each block's partial sum of
     * int8 × input added to the row's sum times the block's scale. One row at a time, not four side by side as
     * the fp32 kernel does: int8 rows are 768 bytes, so four of them read together are four short streams, and
     * with this few instructions per byte the core waits on memory the prefetcher did not fetch ahead. Read
     * sequentially, the same weights stream faster although the input is loaded once per row instead of once
     * per four: over 123M weights in rows of 768, three alternating pairs, one thread 13.8-14.9 -> 16.7-18.3
     * and two 26.4-28.3 -> 30.9-36.4 billion weights/s (the four-row kernel written in C streamed no faster
     * than in Java: the pattern, not the compiler, was the limit). Two blocks per iteration, each with its own
     * partial sums, keep two chains of FMAs in flight; a block's first two vectors are written out, not looped
     * over (as a loop of one trip at 512 bits the kernel streamed slower than the four-row one, 18-20 billion
     * weights/s on two threads).
     */
    private static void dot(MemorySegment out, MemorySegment in, Matrix weight, MemorySegment bias,
                            int t, int C, int OC, int o) {
        MemorySegment q = weight.data(), scales = weight.scales();
        int block = weight.block(), blocks = C / block, L = F.length();
        long x = (long) t * C, row = (long) o * C, s = (long) o * blocks;
        // No Simd.faultable here: the scalar reads of the scales already make this method one that may fault.
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F);
        int b = 0;
        for (; b + 2 <= blocks; b += 2) {
            long i = (long) b * block, k = i + block;
            // Widened in place, not by a helper: a helper C2 once compiled on its own (big, with the Vector API's
            // fallbacks) is no longer inlined, and then every widened vector is a heap object (seen with AVX2).
            FloatVector p0 = ((FloatVector) ByteVector.fromMemorySegment(Q, q, row + i, LE).convertShape(B2F, F, 0))
                    .mul(FloatVector.fromMemorySegment(F, in, at(x + i), LE));
            FloatVector p1 = ((FloatVector) ByteVector.fromMemorySegment(Q, q, row + k, LE).convertShape(B2F, F, 0))
                    .mul(FloatVector.fromMemorySegment(F, in, at(x + k), LE));
            p0 = ((FloatVector) ByteVector.fromMemorySegment(Q, q, row + i + L, LE).convertShape(B2F, F, 0))
                    .fma(FloatVector.fromMemorySegment(F, in, at(x + i + L), LE), p0);
            p1 = ((FloatVector) ByteVector.fromMemorySegment(Q, q, row + k + L, LE).convertShape(B2F, F, 0))
                    .fma(FloatVector.fromMemorySegment(F, in, at(x + k + L), LE), p1);
            for (int j = 2 * L; j < block; j += L) { // blocks of more than two vectors (256 bits: four)
                p0 = ((FloatVector) ByteVector.fromMemorySegment(Q, q, row + i + j, LE).convertShape(B2F, F, 0))
                        .fma(FloatVector.fromMemorySegment(F, in, at(x + i + j), LE), p0);
                p1 = ((FloatVector) ByteVector.fromMemorySegment(Q, q, row + k + j, LE).convertShape(B2F, F, 0))
                        .fma(FloatVector.fromMemorySegment(F, in, at(x + k + j), LE), p1);
            }
            a0 = p0.fma(FloatVector.broadcast(F, scales.getAtIndex(FLOAT, s + b)), a0);
            a1 = p1.fma(FloatVector.broadcast(F, scales.getAtIndex(FLOAT, s + b + 1)), a1);
        }
        if (b < blocks) { // an odd number of blocks: the last one alone
            long i = (long) b * block;
            FloatVector p0 = FloatVector.zero(F);
            for (int j = 0; j < block; j += L) {
                p0 = ((FloatVector) ByteVector.fromMemorySegment(Q, q, row + i + j, LE).convertShape(B2F, F, 0))
                        .fma(FloatVector.fromMemorySegment(F, in, at(x + i + j), LE), p0);
            }
            a0 = p0.fma(FloatVector.broadcast(F, scales.getAtIndex(FLOAT, s + b)), a0);
        }
        MatMul.store1(out, bias, t, OC, o, a0.add(a1).reduceLanes(VectorOperators.ADD));
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
        MatMul.store1(out, bias, t, OC, o, s);
    }
}
