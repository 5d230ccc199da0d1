package tinyllm.api;

import java.lang.foreign.MemorySegment;

import tinyllm.TinyLlmException;
import tinyllm.model.GPT2Config;

/**
 * One conversation with a model: a KV cache of {@link #contextLength()} positions and the activations
 * for a prompt chunk, allocated once when the session is made, and its position in the context. Feed
 * tokens with {@link #prefill} and {@link #append}; read the next-token logits with {@link #logits()};
 * {@link #reset()} starts over with the same buffers. Nothing is allocated on the Java heap after
 * construction.
 *
 * <p>A session is a {@link BatchRunner} of one {@link Sequence}: its prompt chunks and decode steps take
 * the same forward pass as a server's batched steps. It is used by one thread at a time; any number of
 * sessions may share one {@link Model}.
 */
public final class Session implements AutoCloseable {
    /** Most prompt rows one pass takes; longer prompts go in chunks of this size, so they need no more memory. */
    static final int PREFILL_ROWS = 512;

    private final GPT2Config config;
    private final BatchRunner runner;
    private final Sequence sequence;
    private final int[] oneToken = new int[1];

    /** Takes ownership of {@code runner}, a runner of one logits row, and gives the sequence its cache. */
    Session(GPT2Config config, BatchRunner runner, int contextTokens) {
        this.config = config;
        this.runner = runner;
        this.sequence = runner.newSequence(contextTokens);
    }

    /** The model's shape. */
    public GPT2Config config() {
        return config;
    }

    /** How many tokens the session holds: the position the next token will take. */
    public int position() {
        return sequence.position();
    }

    /** The most tokens the session can hold: the model's context, or what {@link Model#newSession(int)} asked for. */
    public int contextLength() {
        return sequence.capacity();
    }

    /** Forgets every token; the buffers are kept for the next conversation. */
    public void reset() {
        sequence.reset();
    }

    /**
     * Forgets the tokens from {@code position} on, keeping the cache of those before it: the next token fed
     * goes to that position. (The logits still describe the last token fed until the next one.)
     */
    public void rewind(int position) {
        sequence.rewind(position);
    }

    /**
     * The next-token logits after the last token fed: V floats, read-only, overwritten by the next call.
     *
     * @throws IllegalStateException before the first token is fed, after {@link #reset}, or after a feed that failed
     */
    public MemorySegment logits() {
        return runner.logits(sequence);
    }

    /** The greedy choice: the id of the largest logit (see {@link #logits} for when there is none). */
    public int argmax() {
        return Greedy.argmax(logits(), config.vocabSize());
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
     * Feeds tokens[from .. from+count) at the session's position in passes of at most 512 rows (so a long
     * prompt needs no more memory than a short one): keys and values go into the cache and only the last
     * token's logits are computed. Everything is checked before anything is fed.
     *
     * @throws TinyLlmException if a token id is out of range, the context would overflow, or the
     *                          checkpoint's mapping faulted (the file was truncated while in use)
     * @throws IndexOutOfBoundsException if [from, from + count) is not within {@code tokens}
     */
    public void prefill(int[] tokens, int from, int count) {
        BatchRunner.checkFeed(config, "session", sequence.position(), sequence.capacity(), tokens, from, count);
        int rows;
        for (int done = 0; done < count; done += rows) {
            rows = Math.min(runner.maxRows(), count - done);
            runner.add(sequence, tokens, from + done, rows, done + rows == count);
            runner.step();
        }
    }

    /** Frees the activations and the KV cache. */
    @Override
    public void close() {
        runner.close();
    }
}
