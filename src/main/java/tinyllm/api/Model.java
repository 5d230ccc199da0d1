package tinyllm.api;

import java.lang.foreign.Arena;
import java.nio.file.Path;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.model.GPT2Config;
import tinyllm.model.Weights;
import tinyllm.runtime.WorkerPool;

/**
 * A GPT-2 model ready to run: a checkpoint mapped read-only, its weight views and the worker pool
 * that runs the kernels. Sessions created from it share all three; the model itself holds no
 * per-request state, so it is safe to use from many threads. {@link #close()} unmaps the weights and
 * stops the workers: close the sessions first.
 *
 * <p>Threading: the pool has {@code threads} workers, the calling thread being one of them. Sessions
 * driven from several threads take turns on the pool kernel by kernel, so the cores are shared among
 * them rather than oversubscribed; each session's own state is touched only by its caller.
 */
public final class Model implements AutoCloseable {
    private final Arena arena;
    private final Checkpoint checkpoint;
    private final Weights weights;
    private final WorkerPool pool;

    private Model(Arena arena, Checkpoint checkpoint, int threads) {
        this.arena = arena;
        this.checkpoint = checkpoint;
        this.weights = Weights.of(checkpoint.config(), checkpoint.parameters(), arena);
        this.pool = new WorkerPool(threads);
    }

    /**
     * Opens and validates {@code path}; {@code threads} workers (the caller counts as one) run the kernels.
     *
     * @throws TinyLlmException with a one-line message when the file is missing or not a valid checkpoint
     */
    public static Model open(Path path, int threads) {
        if (threads < 1) {
            throw new TinyLlmException("--threads must be at least 1, got " + threads);
        }
        Arena arena = Arena.ofShared();
        try {
            return new Model(arena, Checkpoint.open(path, arena), threads);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Opens {@code path} with one worker per available processor. */
    public static Model open(Path path) {
        return open(path, Runtime.getRuntime().availableProcessors());
    }

    /** The model's shape, from the checkpoint's header. */
    public GPT2Config config() {
        return checkpoint.config();
    }

    /** The checkpoint file. */
    public Path path() {
        return checkpoint.path();
    }

    /** Worker threads, the calling thread included. */
    public int threads() {
        return pool.workers();
    }

    /** The engine's own threads, for accounting (allocation tests, profilers). */
    public Thread[] workerThreads() {
        return pool.threads();
    }

    /** A new session with its own activations and a KV cache for the model's whole context, allocated now, once. */
    public Session newSession() {
        return newSession(config().maxSeqLen());
    }

    /**
     * A new session whose KV cache holds {@code contextTokens} positions (1 to the model's context) and whose
     * activations hold min(contextTokens, 512) rows, allocated now, once: size it to the request.
     *
     * @throws TinyLlmException if {@code contextTokens} is out of range
     */
    public Session newSession(int contextTokens) {
        if (contextTokens < 1 || contextTokens > config().maxSeqLen()) {
            throw new TinyLlmException("a session holds 1 to " + config().maxSeqLen()
                    + " tokens (the model's context), not " + contextTokens);
        }
        BatchRunner runner = new BatchRunner(config(), weights, pool, Math.min(contextTokens, Session.PREFILL_ROWS), 1);
        try {
            return new Session(config(), runner, contextTokens);
        } catch (RuntimeException | Error e) {
            runner.close();
            throw e;
        }
    }

    /**
     * A runner of batched steps over many sequences (continuous batching): each step takes up to
     * {@code maxRows} rows, decode and prompt rows of any sequences, and reads the weights once for all of
     * them. Its activations and up to {@code maxRows} rows of logits (V floats each) are allocated now, once;
     * each sequence's KV cache when {@link BatchRunner#newSequence} makes it. Use it from one thread.
     *
     * @throws TinyLlmException if {@code maxRows} is below 1
     */
    public BatchRunner newBatchRunner(int maxRows) {
        if (maxRows < 1) {
            throw new TinyLlmException("a batch step needs room for at least 1 row, not " + maxRows);
        }
        return new BatchRunner(config(), weights, pool, maxRows, maxRows);
    }

    @Override
    public void close() {
        pool.close();
        arena.close();
    }
}
