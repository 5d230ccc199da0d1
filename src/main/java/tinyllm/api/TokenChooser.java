package tinyllm.api;

import java.lang.foreign.MemorySegment;

/** Picks the next token from the logits: greedy now, samplers later, all through this one seam. */
public interface TokenChooser {
    /** @param logits V floats, the model's scores for the next token; not modified. */
    int choose(MemorySegment logits, int vocabSize);

    /** A short name for the stats line ("greedy", "sampling t=0.8 top-k 40"). */
    String describe();
}
