package tinyllm.api;

import java.lang.foreign.MemorySegment;

import tinyllm.kernels.Argmax;

/** Always the most likely token: deterministic, the lowest id on a tie. */
public final class Greedy implements TokenChooser {
    @Override
    public int choose(MemorySegment logits, int vocabSize) {
        return Argmax.forward(logits, vocabSize);
    }

    @Override
    public String describe() {
        return "greedy";
    }
}
