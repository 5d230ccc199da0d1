package tinyllm.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static tinyllm.model.ParameterLayout.*;

/**
 * Named views of a checkpoint's parameters, as in llm.c's ParameterTensors, with each per-layer
 * tensor cut once into its layers so the forward pass never slices on the hot path.
 *
 * <p>The matrices (wte, wpe, qkvw, attprojw, fcw, fcprojw: over 99.9 % of the bytes) are views of the
 * mapped file in its storage type, never copied. The vectors (layernorm gains and biases, matmul
 * biases) are always fp32: for a bf16 checkpoint they are widened once at load into a few hundred KB,
 * so layernorm and the bias adds have one fp32 code path.
 */
public record Weights(
        DType matrices,          // storage type of the matrices
        MemorySegment wte,       // (Vp, C) token embeddings; also the logits matrix (first V rows)
        MemorySegment wpe,       // (maxT, C) position embeddings
        Layer[] layers,
        MemorySegment lnfw,      // (C)
        MemorySegment lnfb) {    // (C)

    /** One transformer block's tensors. */
    public record Layer(
            MemorySegment ln1w, MemorySegment ln1b,          // (C)
            MemorySegment qkvw, MemorySegment qkvb,          // (3C, C), (3C)
            MemorySegment attprojw, MemorySegment attprojb,  // (C, C), (C)
            MemorySegment ln2w, MemorySegment ln2b,          // (C)
            MemorySegment fcw, MemorySegment fcb,            // (4C, C), (4C)
            MemorySegment fcprojw, MemorySegment fcprojb) {  // (C, 4C), (C)
    }

    /**
     * Cuts {@code parameters} (all 16 tensors in file order) into named views; bf16 vectors are widened
     * into {@code arena}.
     */
    public static Weights of(GPT2Config config, MemorySegment parameters, Arena arena) {
        ParameterLayout layout = config.layout();
        long bytes = config.dtype().bytes;
        Layer[] layers = new Layer[config.layers()];
        for (int l = 0; l < layers.length; l++) {
            MemorySegment[] t = new MemorySegment[16];
            for (int tensor = LN1W; tensor <= FCPROJB; tensor++) {
                long perLayer = layout.sizes()[tensor] / config.layers();
                MemorySegment view = parameters.asSlice((layout.offsets()[tensor] + l * perLayer) * bytes, perLayer * bytes);
                t[tensor] = isMatrix(tensor) ? view : fp32(view, config.dtype(), arena);
            }
            layers[l] = new Layer(t[LN1W], t[LN1B], t[QKVW], t[QKVB], t[ATTPROJW], t[ATTPROJB],
                    t[LN2W], t[LN2B], t[FCW], t[FCB], t[FCPROJW], t[FCPROJB]);
        }
        return new Weights(config.dtype(),
                tensor(parameters, layout, WTE, bytes), tensor(parameters, layout, WPE, bytes), layers,
                fp32(tensor(parameters, layout, LNFW, bytes), config.dtype(), arena),
                fp32(tensor(parameters, layout, LNFB, bytes), config.dtype(), arena));
    }

    private static boolean isMatrix(int tensor) {
        return tensor == QKVW || tensor == ATTPROJW || tensor == FCW || tensor == FCPROJW;
    }

    /** The vector itself if it is fp32, else a widened fp32 copy (bf16 bits shifted into the high half). */
    private static MemorySegment fp32(MemorySegment vector, DType dtype, Arena arena) {
        if (dtype == DType.FP32) {
            return vector;
        }
        long n = vector.byteSize() / Short.BYTES;
        MemorySegment widened = arena.allocate(n * Float.BYTES, 64);
        for (long i = 0; i < n; i++) {
            int bits = vector.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) << 16;
            widened.setAtIndex(ValueLayout.JAVA_FLOAT, i, Float.intBitsToFloat(bits));
        }
        return widened;
    }

    private static MemorySegment tensor(MemorySegment parameters, ParameterLayout layout, int tensor, long bytes) {
        return parameters.asSlice(layout.offsets()[tensor] * bytes, layout.sizes()[tensor] * bytes);
    }
}
