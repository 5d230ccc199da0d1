package tinyllm.api;

/**
 * A sequence slot of a {@link BatchRunner}: one request's KV cache, allocated once and reused with {@link #reset()}.
 *
 * <p><b>TEMPORARY STAND-IN</b> (issue 10, contract C4): this slot is a whole {@link Session}, so a
 * {@link BatchRunner} step runs each sequence as its own forward pass. The real batched runtime (branch issue10a)
 * replaces this file at merge, with the same public API; nothing outside C4 may depend on it.
 */
public final class Sequence implements AutoCloseable {
    final Session session;
    private final int capacity;

    Sequence(Session session, int capacity) {
        this.session = session;
        this.capacity = capacity;
    }

    /** Tokens held: the position the next token takes. */
    public int position() {
        return session.position();
    }

    /** The most tokens this slot holds. */
    public int capacity() {
        return capacity;
    }

    /** Forgets every token; keeps the buffers. */
    public void reset() {
        session.reset();
    }

    /** Frees the KV cache. */
    @Override
    public void close() {
        session.close();
    }
}
