package tinyllm.api;

import java.lang.foreign.MemorySegment;

import tinyllm.TinyLlmException;
import tinyllm.kernels.Argmax;

/** Always the most likely token: deterministic, the lowest id on a tie. Refuses logits that are not all finite. */
public final class Greedy implements TokenChooser {
    /** @throws TinyLlmException if a logit is NaN or infinite: the argmax of garbage would be a silent wrong answer */
    @Override
    public int choose(MemorySegment logits, int vocabSize) {
        return argmax(logits, vocabSize);
    }

    @Override
    public String describe() {
        return "greedy";
    }

    /** The greedy choice over logits[0..V), for this chooser and {@link Session#argmax()}. */
    static int argmax(MemorySegment logits, int vocabSize) {
        if (vocabSize < 1 || logits.byteSize() < (long) vocabSize * Float.BYTES) {
            throw new IllegalArgumentException("greedy needs logits of 1 or more tokens, got a vocabulary of " + vocabSize
                    + " over " + logits.byteSize() / Float.BYTES + " floats");
        }
        int token = Argmax.forward(logits, vocabSize);
        if (token < 0) {
            throw new TinyLlmException("cannot choose greedily: the model's logits hold NaN or infinite values (a broken checkpoint?)");
        }
        return token;
    }
}
