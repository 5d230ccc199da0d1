package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;
import static tinyllm.kernels.Simd.at;

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
            long row = (long) r * C;
            // Two passes (mean, then squared deviations) rather than E[x^2] - mean^2, which cancels badly.
            FloatVector sum = FloatVector.zero(F);
            int i = 0;
            for (; i < upper; i += F.length()) {
                sum = sum.add(FloatVector.fromMemorySegment(F, in, at(row + i), LE));
            }
            float total = sum.reduceLanes(VectorOperators.ADD);
            for (; i < C; i++) {
                total += in.getAtIndex(FLOAT, row + i);
            }
            float mean = total / C;

            FloatVector meanV = FloatVector.broadcast(F, mean);
            FloatVector squares = FloatVector.zero(F);
            for (i = 0; i < upper; i += F.length()) {
                FloatVector d = FloatVector.fromMemorySegment(F, in, at(row + i), LE).sub(meanV);
                squares = d.fma(d, squares);
            }
            float variance = squares.reduceLanes(VectorOperators.ADD);
            for (; i < C; i++) {
                float d = in.getAtIndex(FLOAT, row + i) - mean;
                variance += d * d;
            }
            float rstd = (float) (1.0 / Math.sqrt(variance / C + EPS));

            FloatVector rstdV = FloatVector.broadcast(F, rstd);
            for (i = 0; i < upper; i += F.length()) {
                FloatVector n = FloatVector.fromMemorySegment(F, in, at(row + i), LE).sub(meanV).mul(rstdV);
                n.fma(FloatVector.fromMemorySegment(F, weight, at(i), LE), FloatVector.fromMemorySegment(F, bias, at(i), LE))
                        .intoMemorySegment(out, at(row + i), LE);
            }
            for (; i < C; i++) {
                float n = (in.getAtIndex(FLOAT, row + i) - mean) * rstd;
                out.setAtIndex(FLOAT, row + i, n * weight.getAtIndex(FLOAT, i) + bias.getAtIndex(FLOAT, i));
            }
        }
    }
}
