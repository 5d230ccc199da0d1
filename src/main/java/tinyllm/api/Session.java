package tinyllm.api;

import java.lang.foreign.MemorySegment;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.model.GPT2Config;
import tinyllm.runtime.Forward;

/**
 * One conversation with a model: its activations and KV cache, allocated once when the session is
 * made (for the model's whole context, or for as many tokens as asked), and its position in the context. Feed tokens with {@link #prefill} and {@link #append}; read
 * the next-token logits with {@link #logits()}; {@link #reset()} starts over with the same buffers.
 * Nothing is allocated on the Java heap after construction.
 *
 * <p>A session is used by one thread at a time; any number of sessions may share one {@link Model}.
 */
public final class Session implements AutoCloseable {
    private final GPT2Config config;
    private final Checkpoint checkpoint;
    private final Forward forward;
    private final MemorySegment logits;
    private final int[] oneToken = new int[1];
    private int position;

    /** @param checkpoint the file the weights come from, or null for weights that are not a file's */
    Session(GPT2Config config, Checkpoint checkpoint, Forward forward) {
        this.config = config;
        this.checkpoint = checkpoint;
        this.forward = forward;
        this.logits = forward.logits().asReadOnly();
    }

    /** The model's shape. */
    public GPT2Config config() {
        return config;
    }

    /** How many tokens the session holds: the position the next token will take. */
    public int position() {
        return position;
    }

    /** The most tokens this session can hold: the model's context length, or less if it was made smaller. */
    public int contextLength() {
        return forward.capacity();
    }

    /** Forgets every token; the buffers are kept for the next conversation. */
    public void reset() {
        position = 0;
    }

    /**
     * Forgets the tokens from {@code position} on, keeping the cache of those before it: the next token fed
     * goes to that position. (The logits still describe the last token fed until the next one.)
     */
    public void rewind(int position) {
        if (position < 0 || position > this.position) {
            throw new IllegalArgumentException("cannot rewind to " + position + ": the session holds " + this.position + " tokens");
        }
        this.position = position;
    }

    /** The next-token logits after the last token fed: V floats, read-only, overwritten by the next call. */
    public MemorySegment logits() {
        return logits;
    }

    /**
     * The greedy choice: the id of the largest logit.
     *
     * @throws TinyLlmException if a logit is NaN or infinite (a broken checkpoint)
     */
    public int argmax() {
        return Greedy.argmax(logits, config.vocabSize());
    }

    /** Feeds one token (a decode step) and computes the logits after it. */
    public void append(int token) {
        oneToken[0] = token;
        prefill(oneToken, 0, 1);
    }

    /** Feeds all of {@code tokens}; see {@link #prefill(int[], int, int)}. */
    public void prefill(int[] tokens) {
        prefill(tokens, 0, tokens.length);
    }

    /**
     * Feeds tokens[from .. from+count) at the session's position in batched passes of at most 512 rows
     * (so a long prompt needs no more memory than a short one): keys and values go into the cache and
     * only the last token's logits are computed.
     *
     * @throws TinyLlmException if a token id is out of range, the context would overflow, or the
     *                          checkpoint's mapping faulted (the file was truncated while in use)
     * @throws IndexOutOfBoundsException if [from, from + count) is not within {@code tokens}
     */
    public void prefill(int[] tokens, int from, int count) {
        if (count < 1) {
            throw new TinyLlmException("nothing to feed: the prompt is empty");
        }
        java.util.Objects.checkFromIndexSize(from, count, tokens.length);
        // Every token fed takes a place in the cache (the context rule, GPT2Config.fits, sizes the cache so
        // that one more token can still be chosen after the last one fed).
        if ((long) position + count > forward.capacity()) {
            throw new TinyLlmException("the context is full: " + position + " tokens held + " + count
                    + " new would exceed " + (forward.capacity() == config.maxSeqLen() ? "the model's context of "
                    : "this session's capacity of ") + forward.capacity() + " tokens");
        }
        for (int i = from; i < from + count; i++) {
            if (tokens[i] < 0 || tokens[i] >= config.vocabSize()) {
                throw new TinyLlmException("token id " + tokens[i] + " is out of range: the model's vocabulary is 0.."
                        + (config.vocabSize() - 1));
            }
        }
        try {
            int rows = 0;
            for (int done = 0; done < count; done += rows) {
                rows = Math.min(forward.chunkRows(), count - done);
                forward.forward(tokens, from + done, rows, position);
                position += rows;
            }
            forward.logits(rows);
        } catch (InternalError e) {
            // HotSpot's word for a read of a mapped page that is gone, on this thread or a worker (see Checkpoint).
            if (checkpoint != null && checkpoint.mapped()) {
                throw checkpoint.changedWhileInUse(e);
            }
            throw e;
        }
    }

    /** Frees the activations and the KV cache. */
    @Override
    public void close() {
        forward.close();
    }
}
