package tinyllm.model;

import java.lang.foreign.MemorySegment;

import static tinyllm.model.ParameterLayout.*;

/**
 * Named views of a checkpoint's parameters, as in llm.c's ParameterTensors, with each per-layer
 * tensor cut once into its layers so the forward pass never slices on the hot path. Every view
 * points into the mapped file: nothing is copied.
 */
public record Weights(
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

    /** Cuts {@code parameters} (all 16 tensors in file order) into named views. */
    public static Weights of(GPT2Config config, MemorySegment parameters) {
        ParameterLayout layout = config.layout();
        long bytes = config.dtype().bytes;
        Layer[] layers = new Layer[config.layers()];
        for (int l = 0; l < layers.length; l++) {
            MemorySegment[] t = new MemorySegment[16];
            for (int tensor = LN1W; tensor <= FCPROJB; tensor++) {
                long perLayer = layout.sizes()[tensor] / config.layers();
                t[tensor] = parameters.asSlice((layout.offsets()[tensor] + l * perLayer) * bytes, perLayer * bytes);
            }
            layers[l] = new Layer(t[LN1W], t[LN1B], t[QKVW], t[QKVB], t[ATTPROJW], t[ATTPROJB],
                    t[LN2W], t[LN2B], t[FCW], t[FCB], t[FCPROJW], t[FCPROJB]);
        }
        return new Weights(
                tensor(parameters, layout, WTE, bytes), tensor(parameters, layout, WPE, bytes), layers,
                tensor(parameters, layout, LNFW, bytes), tensor(parameters, layout, LNFB, bytes));
    }

    private static MemorySegment tensor(MemorySegment parameters, ParameterLayout layout, int tensor, long bytes) {
        return parameters.asSlice(layout.offsets()[tensor] * bytes, layout.sizes()[tensor] * bytes);
    }
}
