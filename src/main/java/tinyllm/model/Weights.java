package tinyllm.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import static tinyllm.model.ParameterLayout.*;

/**
 * Named views of a checkpoint's parameters, as in llm.c's ParameterTensors, with each per-layer
 * tensor cut once into its layers so the forward pass never slices on the hot path.
 *
 * <p>The matrices (wte, wpe, qkvw, attprojw, fcw, fcprojw: over 99.9 % of the bytes) are {@link Matrix}
 * views of the mapped file in its storage type, never copied. The vectors (layernorm gains and biases,
 * matmul biases) are always fp32: for a bf16 checkpoint they are widened once at load into a few hundred KB,
 * so layernorm and the bias adds have one fp32 code path.
 */
public record Weights(
        Matrix wte,              // (Vp, C) token embeddings; also the logits matrix (first V rows)
        Matrix wpe,              // (maxT, C) position embeddings
        Layer[] layers,
        MemorySegment lnfw,      // (C)
        MemorySegment lnfb) {    // (C)

    /** One transformer block's tensors. */
    public record Layer(
            MemorySegment ln1w, MemorySegment ln1b,          // (C)
            Matrix qkvw, MemorySegment qkvb,                 // (3C, C), (3C)
            Matrix attprojw, MemorySegment attprojb,         // (C, C), (C)
            MemorySegment ln2w, MemorySegment ln2b,          // (C)
            Matrix fcw, MemorySegment fcb,                   // (4C, C), (4C)
            Matrix fcprojw, MemorySegment fcprojb) {         // (C, 4C), (C)
    }

    /**
     * Cuts {@code parameters} (all 16 tensors in file order, as {@link ParameterLayout} places them) into named
     * views; bf16 vectors are widened into {@code arena}.
     */
    public static Weights of(GPT2Config config, MemorySegment parameters, Arena arena) {
        ParameterLayout layout = config.layout();
        int C = config.channels(), L = config.layers();
        Layer[] layers = new Layer[L];
        for (int l = 0; l < L; l++) {
            MemorySegment[] v = new MemorySegment[16];
            for (int tensor : new int[] {LN1W, LN1B, QKVB, ATTPROJB, LN2W, LN2B, FCB, FCPROJB}) {
                long perLayer = layout.byteSizes()[tensor] / L;
                v[tensor] = fp32(parameters.asSlice(layout.byteOffsets()[tensor] + l * perLayer, perLayer), config.dtype(), arena);
            }
            layers[l] = new Layer(v[LN1W], v[LN1B], matrix(config, parameters, QKVW, l, 3 * C, C), v[QKVB],
                    matrix(config, parameters, ATTPROJW, l, C, C), v[ATTPROJB], v[LN2W], v[LN2B],
                    matrix(config, parameters, FCW, l, 4 * C, C), v[FCB],
                    matrix(config, parameters, FCPROJW, l, C, 4 * C), v[FCPROJB]);
        }
        return new Weights(
                matrix(config, parameters, WTE, 0, config.vocabPadded(), C),
                matrix(config, parameters, WPE, 0, config.maxSeqLen(), C),
                layers,
                fp32(vector(parameters, layout, LNFW), config.dtype(), arena),
                fp32(vector(parameters, layout, LNFB), config.dtype(), arena));
    }

    /** Layer {@code l}'s (rows, cols) matrix of a tensor (layer 0 for wte and wpe, which are one matrix). */
    private static Matrix matrix(GPT2Config config, MemorySegment parameters, int tensor, int l, int rows, int cols) {
        ParameterLayout layout = config.layout();
        long each = layout.byteSizes()[tensor] / ParameterLayout.matrices(tensor, config.layers());
        return Matrix.of(config.dtype(), parameters, layout.byteOffsets()[tensor] + l * each, rows, cols, config.block());
    }

    /** Every weight matrix, wte and wpe first, then each layer's four. */
    public List<Matrix> matrices() {
        List<Matrix> all = new ArrayList<>(List.of(wte, wpe));
        for (Layer layer : layers) {
            all.addAll(List.of(layer.qkvw(), layer.attprojw(), layer.fcw(), layer.fcprojw()));
        }
        return all;
    }

    /** The vector itself if it is fp32, else a widened fp32 copy (bf16 bits shifted into the high half). */
    private static MemorySegment fp32(MemorySegment vector, DType dtype, Arena arena) {
        if (dtype != DType.BF16) {
            return vector;
        }
        long n = vector.byteSize() / Short.BYTES;
        MemorySegment widened = arena.allocate(n * Float.BYTES, 64);
        for (long i = 0; i < n; i++) {
            widened.setAtIndex(ValueLayout.JAVA_FLOAT, i, BFloat16.toFloat(vector.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i)));
        }
        return widened;
    }

    private static MemorySegment vector(MemorySegment parameters, ParameterLayout layout, int tensor) {
        return parameters.asSlice(layout.byteOffsets()[tensor], layout.byteSizes()[tensor]);
    }
}
