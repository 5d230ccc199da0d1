package tinyllm.runtime;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of threads, started once, that run one {@link Task} together: the calling thread is
 * worker 0 and the pool's threads are workers 1..n-1.
 *
 * <p>Nothing is allocated per call. Tasks are objects prepared in advance (the forward pass keeps one
 * per kernel and sets its fields before each call); the hand-off is a volatile generation counter that
 * idle workers spin on for a while, then park on, so a token's hundred-odd kernel calls cost
 * microseconds of synchronisation, not a thread wake-up each.
 */
public final class WorkerPool implements AutoCloseable {

    /** A piece of parallel work: each of {@code workers} threads runs it once with its own index. */
    @FunctionalInterface
    public interface Task {
        void run(int worker, int workers);
    }

    /**
     * How long an idle worker spins before it parks: long enough to span the gap between two kernels
     * and between two tokens, short enough to give the core back (to the JIT compiler, say) when idle.
     */
    private static final long SPIN_NANOS = 200_000;
    /**
     * How long a waiting thread spins before it also yields. On a busy machine the thread it waits for
     * may not be running at all; yielding lets it have this core instead of burning a time slice.
     */
    private static final int SPINS_BEFORE_YIELD = 1 << 10;

    private final int workers;
    private final Thread[] threads;
    private final AtomicIntegerArray parked;
    private final AtomicInteger pending = new AtomicInteger();
    private final AtomicBoolean dispatching = new AtomicBoolean();
    private volatile Task task;
    private volatile int generation;
    private volatile boolean closing, closed;
    private volatile Throwable failure;

    public WorkerPool(int workers) {
        if (workers < 1) {
            throw new IllegalArgumentException("a worker pool needs at least one thread, got " + workers);
        }
        this.workers = workers;
        this.threads = new Thread[workers];
        this.parked = new AtomicIntegerArray(workers);
        for (int w = 1; w < workers; w++) {
            int worker = w;
            threads[w] = Thread.ofPlatform().daemon().name("tinyllm-worker-" + w).start(() -> work(worker));
        }
    }

    public int workers() {
        return workers;
    }

    /** The pool's own threads (workers 1..n-1), for tests that account their allocations. */
    public Thread[] threads() {
        Thread[] own = new Thread[workers - 1];
        System.arraycopy(threads, 1, own, 0, own.length);
        return own;
    }

    /**
     * Runs {@code work} on every worker and returns when all have finished. Calls from several threads
     * (several sessions on one model) take turns: a caller waiting for its turn spins, then yields; there
     * is no queue and no fairness. A failure on any worker (an exception or an Error, such as the
     * InternalError of a fault in a mapped read) is rethrown here, in the caller.
     */
    public void run(Task work) {
        if (workers == 1) {
            work.run(0, 1);
            return;
        }
        for (int spins = 0; !dispatching.compareAndSet(false, true); spins++) {
            pause(spins);
        }
        try {
            if (closing) {
                throw new IllegalStateException("the worker pool is closed");
            }
            task = work;
            pending.set(workers - 1);
            generation = generation + 1; // only the dispatcher writes it, and only one dispatches at a time
            for (int w = 1; w < workers; w++) {
                if (parked.get(w) == 1) {
                    LockSupport.unpark(threads[w]);
                }
            }
            Throwable own = null;
            try {
                work.run(0, workers);
            } catch (Throwable e) {
                own = e;
            }
            for (int spins = 0; pending.get() != 0; spins++) {
                pause(spins);
            }
            task = null;
            Throwable failed = own != null ? own : failure;
            failure = null;
            if (failed instanceof RuntimeException r) {
                throw r;
            }
            if (failed instanceof Error e) {
                throw e;
            }
            if (failed != null) {
                throw new IllegalStateException(failed);
            }
        } finally {
            dispatching.set(false);
        }
    }

    private static void pause(int spins) {
        if (spins < SPINS_BEFORE_YIELD) {
            Thread.onSpinWait();
        } else {
            Thread.yield();
        }
    }

    private void work(int worker) {
        int seen = 0;
        while (true) {
            long spinStart = System.nanoTime();
            int current;
            while ((current = generation) == seen) {
                if (closed) {
                    return;
                }
                if (System.nanoTime() - spinStart < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    // Announce the park before re-checking, so a dispatcher that bumps the generation
                    // after our check is sure to see the flag and unpark us.
                    parked.set(worker, 1);
                    if (generation == seen && !closed) {
                        LockSupport.park(this);
                    }
                    parked.set(worker, 0);
                    spinStart = System.nanoTime();
                }
            }
            seen = current;
            try {
                task.run(worker, workers);
            } catch (Throwable e) {
                failure = e;
            }
            pending.decrementAndGet();
        }
    }

    /** The start of part {@code part} of {@code total} items cut into {@code parts}, aligned down to {@code align}. */
    public static int split(int total, int part, int parts, int align) {
        if (part >= parts) {
            return total;
        }
        int start = (int) ((long) total * part / parts);
        return start - start % align;
    }

    /**
     * Stops the workers. Taking the dispatch lock first lets a kernel call in flight finish: a worker that
     * saw {@code closed} before its task would never count down, and its dispatcher would wait forever.
     * Later calls to {@link #run} throw {@link IllegalStateException}.
     */
    @Override
    public void close() {
        closing = true; // no new dispatch starts, so the lock is soon free even with a busy dispatcher
        for (int spins = 0; !dispatching.compareAndSet(false, true); spins++) {
            pause(spins);
        }
        closed = true;
        dispatching.set(false);
        for (int w = 1; w < workers; w++) {
            LockSupport.unpark(threads[w]);
        }
        for (int w = 1; w < workers; w++) {
            try {
                threads[w].join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
