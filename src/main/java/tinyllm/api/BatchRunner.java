package tinyllm.api;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.model.GPT2Config;
import tinyllm.model.Weights;
import tinyllm.runtime.Batch;
import tinyllm.runtime.Forward;
import tinyllm.runtime.KvCache;
import tinyllm.runtime.WorkerPool;

/**
 * Runs one forward pass over the rows of many sequences: the decode rows of running ones and the prompt
 * rows of new ones, mixed in one step, so every weight matrix is read once per step for all of them
 * (continuous batching). Made by {@link Model#newBatchRunner(int)}. Queue each sequence's tokens with
 * {@link #add}, run them with {@link #step()}, read the logits each asked for with {@link #logits}.
 *
 * <p>One thread (a server's engine thread) uses a runner and its sequences. The activation buffers are
 * sized for {@link #maxRows()} rows and allocated once; nothing is allocated per step, on that thread or
 * on the workers. A {@link Session} is a runner of one sequence.
 */
public final class BatchRunner implements AutoCloseable {
    private final GPT2Config config;
    private final Checkpoint checkpoint; // null for weights that are not a file's (the warm-up's)
    private final Forward forward;
    private final Batch batch;
    private final MemorySegment[] logitRows; // read-only views, one per row of the forward's logits
    private final Sequence[] queued;
    private final List<Sequence> open = new ArrayList<>();
    private int queuedSequences;
    private long steps;
    private boolean closed;

    /** @param checkpoint the file the weights come from, or null for weights that are not a file's */
    BatchRunner(GPT2Config config, Weights weights, Checkpoint checkpoint, WorkerPool pool, int maxRows, int maxLogitRows) {
        this.config = config;
        this.checkpoint = checkpoint;
        this.forward = new Forward(config, weights, pool, maxRows, maxLogitRows);
        this.batch = new Batch(maxRows);
        this.queued = new Sequence[maxRows];
        long rowBytes = (long) config.vocabSize() * Float.BYTES;
        this.logitRows = new MemorySegment[maxLogitRows];
        for (int r = 0; r < maxLogitRows; r++) {
            logitRows[r] = forward.logits().asSlice(r * rowBytes, rowBytes).asReadOnly();
        }
    }

    /** The row budget of one step: decode rows plus prompt rows of every sequence queued. */
    public int maxRows() {
        return forward.maxRows();
    }

    /**
     * A sequence slot with its own KV cache of {@code capacity} positions (1 to the model's context),
     * allocated now, once; reuse it for later requests with {@link Sequence#reset()}.
     *
     * @throws TinyLlmException if the capacity is out of range
     */
    public Sequence newSequence(int capacity) {
        checkOpen();
        if (capacity < 1 || capacity > config.maxSeqLen()) {
            throw new TinyLlmException("a sequence holds 1 to " + config.maxSeqLen() + " tokens (the model's context), not " + capacity);
        }
        Sequence sequence = new Sequence(this, new KvCache(config, capacity));
        open.add(sequence);
        return sequence;
    }

    /**
     * Queues tokens[from .. from+count) of {@code seq} for the next step, at seq.position() onwards. If
     * {@code wantLogits}, the next-token logits after the last of these rows are computed by {@link #step()}.
     * A sequence may be added at most once per step.
     *
     * @throws TinyLlmException if a token id is out of range, the sequence's cache would overflow, or the
     *                          step's row budget would be exceeded
     */
    public void add(Sequence seq, int[] tokens, int from, int count, boolean wantLogits) {
        checkOpen();
        if (seq.runner != this || seq.isClosed()) {
            throw new IllegalArgumentException(seq.isClosed() ? "the sequence is closed" : "the sequence belongs to another runner");
        }
        if (seq.queuedFor == steps) {
            throw new IllegalStateException("the sequence is already queued for this step");
        }
        checkFeed(config, "sequence", seq.position(), seq.capacity(), tokens, from, count);
        if (count > maxRows() - batch.rows()) {
            throw new TinyLlmException("a step holds at most " + maxRows() + " rows: " + batch.rows()
                    + " are queued, " + count + " more do not fit");
        }
        if (wantLogits && batch.logitRows() == logitRows.length) {
            throw new TinyLlmException("a step computes logits for at most " + logitRows.length + " sequences");
        }
        int logitRow = batch.add(seq.cache, tokens, from, count, seq.position(), wantLogits);
        seq.queuedFor = steps;
        seq.queuedRows = count;
        seq.logitRow = logitRow;
        queued[queuedSequences++] = seq;
    }

    /** Rows queued for the next step. */
    public int queuedRows() {
        return batch.rows();
    }

    /**
     * Runs one forward over every queued row, advances each sequence's position by its rows, clears the queue.
     *
     * @throws TinyLlmException if the checkpoint's mapping faulted (the file was truncated while in use); the
     *                          queue is cleared and no sequence advances
     */
    public void step() {
        checkOpen();
        boolean done = false;
        try {
            if (batch.rows() > 0) {
                if (checkpoint != null) checkpoint.requireIntact();
                forward.forward(batch);
                for (int s = 0; s < queuedSequences; s++) {
                    queued[s].advance(queued[s].queuedRows);
                }
            }
            done = true;
        } catch (InternalError e) {
            // HotSpot's word for a read of a mapped page that is gone, on this thread or a worker (see Checkpoint).
            if (checkpoint != null && checkpoint.mapped()) {
                throw checkpoint.changedWhileInUse(e);
            }
            throw e;
        } finally {
            for (int s = 0; s < queuedSequences; s++) {
                queued[s].queuedRows = 0;
                if (!done) queued[s].logitRow = -1; // a failed step's logits are not the answer to anything
                queued[s] = null;
            }
            queuedSequences = 0;
            batch.clear();
            steps++;
        }
    }

    /**
     * After {@link #step()}: the next-token logits of {@code seq} (V floats, a read-only view, overwritten by
     * the next step), if its add for that step asked for them, that step succeeded, and the sequence has not been
     * reset since.
     */
    public MemorySegment logits(Sequence seq) {
        if (seq.runner != this || seq.queuedFor != steps - 1 || seq.logitRow < 0) {
            throw new IllegalStateException("no logits for this sequence: the last step did not compute them for it (not asked,"
                    + " the step failed, or the sequence was reset since)");
        }
        return logitRows[seq.logitRow];
    }

    /** Frees the activations and the caches of every sequence still open. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Sequence seq : open.toArray(new Sequence[0])) {
            seq.queuedRows = 0;
            seq.close();
        }
        forward.close();
    }

    void forget(Sequence seq) {
        open.remove(seq);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the batch runner is closed");
        }
    }

    /**
     * The checks before feeding tokens[from .. from+count) to a sequence holding {@code held} of
     * {@code capacity} positions: something to feed, room for it, every id in the vocabulary. Every token fed
     * takes a place in the cache (the context rule, GPT2Config.fits, sizes a cache so that one more token can
     * still be chosen after the last one fed). {@code holder} names the cache's owner in the message.
     */
    static void checkFeed(GPT2Config config, String holder, int held, int capacity, int[] tokens, int from, int count) {
        if (count < 1) {
            throw new TinyLlmException("nothing to feed: the prompt is empty");
        }
        Objects.checkFromIndexSize(from, count, tokens.length);
        if ((long) held + count > capacity) {
            throw new TinyLlmException("the context is full: " + held + " tokens held + " + count + " new would exceed "
                    + (capacity == config.maxSeqLen() ? "the model's context of " : "this " + holder + "'s capacity of ")
                    + capacity + " tokens");
        }
        for (int i = from; i < from + count; i++) {
            if (tokens[i] < 0 || tokens[i] >= config.vocabSize()) {
                throw new TinyLlmException("token id " + tokens[i] + " is out of range: the model's vocabulary is 0.."
                        + (config.vocabSize() - 1));
            }
        }
    }
}
