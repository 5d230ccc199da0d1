package tinyllm.kernels;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

import jdk.incubator.vector.FloatVector;

import tinyllm.model.DType;
import tinyllm.model.Matrix;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.LE;
import static tinyllm.kernels.Simd.at;

/** Token plus position embedding: the input of the first transformer block. */
public final class Encoder {
    private Encoder() {}

    /**
     * out (T,C) = wte[tokens[t]] + wpe[positions[t]] for t in [0, T): each row has its own position, as the
     * rows of a batch come from many sequences.
     * wte (Vp,C), wpe (maxT,C), in any encoding. A token id or position beyond them throws.
     */
    public static void forward(MemorySegment out, Matrix wte, Matrix wpe, int[] tokens, int[] positions, int T, int C) {
        if (wte.cols() != C || wpe.cols() != C) {
            throw new IndexOutOfBoundsException("embeddings of " + wte.cols() + " and " + wpe.cols() + " channels for rows of " + C);
        }
        Simd.requireFloats(out, (long) T * C);
        for (int t = 0; t < T; t++) {
            Objects.checkIndex(tokens[t], wte.rows());
            Objects.checkIndex(positions[t], wpe.rows());
        }
        if (wte.encoding() == DType.FP32 && wpe.encoding() == DType.FP32) {
            forward(out, wte.data(), wpe.data(), tokens, positions, T, C);
        } else {
            widened(out, wte, wpe, tokens, positions, T, C);
        }
    }

    /** {@link #forward} with fp32 embeddings, a vector at a time. */
    static void forward(MemorySegment out, MemorySegment wte, MemorySegment wpe,
                        int[] tokens, int[] positions, int T, int C) {
        Simd.faultable(wpe, at((long) positions[0] * C));
        int upper = F.loopBound(C);
        for (int t = 0; t < T; t++) {
            long outRow = (long) t * C, tokenRow = (long) tokens[t] * C, positionRow = (long) positions[t] * C;
            int i = 0;
            for (; i < upper; i += F.length()) {
                FloatVector.fromMemorySegment(F, wte, at(tokenRow + i), LE)
                        .add(FloatVector.fromMemorySegment(F, wpe, at(positionRow + i), LE))
                        .intoMemorySegment(out, at(outRow + i), LE);
            }
            for (; i < C; i++) {
                out.setAtIndex(Simd.FLOAT, outRow + i, wte.getAtIndex(Simd.FLOAT, tokenRow + i) + wpe.getAtIndex(Simd.FLOAT, positionRow + i));
            }
        }
    }

    /** {@link #forward} with bf16 or q8 embeddings: two rows widened per token, not worth vectorising. */
    private static void widened(MemorySegment out, Matrix wte, Matrix wpe, int[] tokens, int[] positions, int T, int C) {
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < C; i++) {
                out.setAtIndex(Simd.FLOAT, (long) t * C + i, wte.get(tokens[t], i) + wpe.get(positions[t], i));
            }
        }
    }
}
