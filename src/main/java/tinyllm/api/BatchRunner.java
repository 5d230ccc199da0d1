package tinyllm.api;

import java.lang.foreign.MemorySegment;

import tinyllm.TinyLlmException;

/**
 * Runs one forward pass over the rows of many sequences: decode rows of running sequences and prompt rows of new
 * ones, queued with {@link #add} and run by {@link #step()}. Made by {@link Model#newBatchRunner(int)}; one thread
 * (the server's engine thread) uses it.
 *
 * <p><b>TEMPORARY STAND-IN</b> (issue 10, contract C4): {@link #step()} feeds each queued sequence through its own
 * {@link Session}, one after another: correct, and the same tokens as a solo run by construction, but every
 * sequence reads the weights on its own, so it is no faster than sessions taking turns. The real batched runtime
 * (branch issue10a) replaces this file at merge with the same public API.
 */
public final class BatchRunner implements AutoCloseable {
    private final Model model;
    private final int maxRows;
    // The queue of the next step, in the order of add(): at most maxRows entries (every add has a row at least).
    private final Sequence[] queued;
    private final int[][] queuedTokens;
    private final int[] queuedFrom, queuedCount;
    private final boolean[] queuedWantLogits;
    private int queuedSequences, queuedRows;

    BatchRunner(Model model, int maxRows) {
        if (maxRows < 1) {
            throw new TinyLlmException("a batch needs room for at least one row, got " + maxRows);
        }
        this.model = model;
        this.maxRows = maxRows;
        this.queued = new Sequence[maxRows];
        this.queuedTokens = new int[maxRows][];
        this.queuedFrom = new int[maxRows];
        this.queuedCount = new int[maxRows];
        this.queuedWantLogits = new boolean[maxRows];
    }

    /** Row budget of one step: decode rows plus prompt rows. */
    public int maxRows() {
        return maxRows;
    }

    /** A sequence slot with its own KV cache of {@code capacity} positions (1 .. the model's context). */
    public Sequence newSequence(int capacity) {
        int context = model.config().maxSeqLen();
        if (capacity < 1 || capacity > context) {
            throw new TinyLlmException("a sequence holds 1 to " + context + " positions, got " + capacity);
        }
        return new Sequence(model.newSession(), capacity);
    }

    /**
     * Queues tokens[from .. from+count) of {@code seq} for the next step, at seq.position() onwards. If
     * {@code wantLogits}, the logits after the last of these rows are computed by {@link #step()}. A sequence may be
     * added at most once per step.
     *
     * @throws TinyLlmException on bad ids, a sequence that would overflow, or a step over its row budget
     */
    public void add(Sequence seq, int[] tokens, int from, int count, boolean wantLogits) {
        if (count < 1) {
            throw new TinyLlmException("nothing to add: a sequence needs at least one row in a step");
        }
        if (queuedRows + count > maxRows) {
            throw new TinyLlmException("the step holds " + queuedRows + " rows: " + count + " more exceed its budget of " + maxRows);
        }
        if (seq.position() + count > seq.capacity()) {
            throw new TinyLlmException("the sequence holds " + seq.position() + " tokens: " + count
                    + " more exceed its capacity of " + seq.capacity());
        }
        int vocab = model.config().vocabSize();
        for (int i = from; i < from + count; i++) {
            if (tokens[i] < 0 || tokens[i] >= vocab) {
                throw new TinyLlmException("token id " + tokens[i] + " is out of range: the model's vocabulary is 0.." + (vocab - 1));
            }
        }
        for (int i = 0; i < queuedSequences; i++) {
            if (queued[i] == seq) {
                throw new TinyLlmException("a sequence may be added once per step");
            }
        }
        queued[queuedSequences] = seq;
        queuedTokens[queuedSequences] = tokens;
        queuedFrom[queuedSequences] = from;
        queuedCount[queuedSequences] = count;
        queuedWantLogits[queuedSequences] = wantLogits;
        queuedSequences++;
        queuedRows += count;
    }

    /** Rows queued for the next step. */
    public int queuedRows() {
        return queuedRows;
    }

    /** Runs every queued row, advances each sequence by its rows, clears the queue. */
    public void step() {
        try {
            for (int i = 0; i < queuedSequences; i++) {
                queued[i].session.prefill(queuedTokens[i], queuedFrom[i], queuedCount[i]);
            }
        } finally {
            for (int i = 0; i < queuedSequences; i++) {
                queuedTokens[i] = null;
            }
            queuedSequences = 0;
            queuedRows = 0;
        }
    }

    /** After {@link #step()}: the next-token logits of {@code seq} (V floats, read-only), valid until the next step. */
    public MemorySegment logits(Sequence seq) {
        return seq.session.logits();
    }

    @Override
    public void close() {
        // The sequences own their buffers; the stand-in holds none of its own.
    }
}
