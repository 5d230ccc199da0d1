package tinyllm.api;

import tinyllm.runtime.KvCache;

/**
 * One sequence of a {@link BatchRunner}: a slot with its own KV cache of {@link #capacity()} positions,
 * allocated once when the slot is made, and its position in that cache. Reuse the slot for the next
 * request with {@link #reset()}; {@link #close()} frees the cache. Used by the runner's thread only.
 */
public final class Sequence implements AutoCloseable {
    final BatchRunner runner;
    final KvCache cache;
    private int position;
    private boolean closed;
    /** The step this sequence was last queued for (the runner's count of steps taken at the time), or -1. */
    long queuedFor = -1;
    /** Its row of the step's logits, or -1 if its add did not ask for them. */
    int logitRow = -1;
    /** Rows queued for the coming step. */
    int queuedRows;

    Sequence(BatchRunner runner, KvCache cache) {
        this.runner = runner;
        this.cache = cache;
    }

    /** Tokens the sequence holds: the position its next token takes. */
    public int position() {
        return position;
    }

    /** The most tokens the sequence can hold. */
    public int capacity() {
        return cache.capacity();
    }

    /** Forgets every token; the cache is kept for the next request. */
    public void reset() {
        rewind(0);
        logitRow = -1; // the logits of the tokens just forgotten answer nothing now
    }

    /** Forgets the tokens from {@code position} on, keeping the cache of those before it. */
    void rewind(int position) {
        checkNotQueued("rewind");
        if (position < 0 || position > this.position) {
            throw new IllegalArgumentException("cannot rewind to " + position + ": the sequence holds " + this.position + " tokens");
        }
        this.position = position;
    }

    void advance(int rows) {
        position += rows;
    }

    boolean isClosed() {
        return closed;
    }

    /** Frees the KV cache. Not while the sequence is queued for a step. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        checkNotQueued("close");
        closed = true;
        cache.close();
        runner.forget(this);
    }

    private void checkNotQueued(String what) {
        if (queuedRows > 0) {
            throw new IllegalStateException("cannot " + what + " a sequence queued for the next step: run step() first");
        }
    }
}
