package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;

/** Layer normalisation over the channels of each row, as GPT-2 applies before attention and MLP. */
public final class LayerNorm {
    /** GPT-2's epsilon; {@code convert} refuses checkpoints trained with another. */
    public static final float EPS = 1e-5f;

    private LayerNorm() {}

    /**
     * out[r] = (in[r] - mean) / sqrt(var + eps) * weight + bias, for rows r in [rowFrom, rowTo).
     * in, out (rows,C); weight, bias (C). The variance is the biased one (divide by C), as in llm.c.
     */
    public static void forward(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias,
                               int C, int rowFrom, int rowTo) {
        Simd.requireFloats(in, (long) rowFrom * C, (long) rowTo * C);
        Simd.requireFloats(out, (long) rowFrom * C, (long) rowTo * C);
        Simd.requireFloats(weight, C);
        Simd.requireFloats(bias, C);
        Simd.faultable(weight, 0);
        int upper = F.loopBound(C);
        for (int r = rowFrom; r < rowTo; r++) {
            long row = (long) r * C * Float.BYTES;
            // Two passes (mean, then squared deviations) rather than E[x^2] - mean^2, which cancels badly.
            FloatVector sum = FloatVector.zero(F);
            int i = 0;
            for (; i < upper; i += F.length()) {
                sum = sum.add(FloatVector.fromMemorySegment(F, in, row + (long) i * Float.BYTES, LE));
            }
            float total = sum.reduceLanes(VectorOperators.ADD);
            for (; i < C; i++) {
                total += in.get(FLOAT, row + (long) i * Float.BYTES);
            }
            float mean = total / C;

            FloatVector meanV = FloatVector.broadcast(F, mean);
            FloatVector squares = FloatVector.zero(F);
            for (i = 0; i < upper; i += F.length()) {
                FloatVector d = FloatVector.fromMemorySegment(F, in, row + (long) i * Float.BYTES, LE).sub(meanV);
                squares = d.fma(d, squares);
            }
            float variance = squares.reduceLanes(VectorOperators.ADD);
            for (; i < C; i++) {
                float d = in.get(FLOAT, row + (long) i * Float.BYTES) - mean;
                variance += d * d;
            }
            float rstd = (float) (1.0 / Math.sqrt(variance / C + EPS));

            FloatVector rstdV = FloatVector.broadcast(F, rstd);
            for (i = 0; i < upper; i += F.length()) {
                long o = (long) i * Float.BYTES;
                FloatVector n = FloatVector.fromMemorySegment(F, in, row + o, LE).sub(meanV).mul(rstdV);
                n.fma(FloatVector.fromMemorySegment(F, weight, o, LE), FloatVector.fromMemorySegment(F, bias, o, LE))
                        .intoMemorySegment(out, row + o, LE);
            }
            for (; i < C; i++) {
                long o = (long) i * Float.BYTES;
                float n = (in.get(FLOAT, row + o) - mean) * rstd;
                out.set(FLOAT, row + o, n * weight.get(FLOAT, o) + bias.get(FLOAT, o));
            }
        }
    }
}
