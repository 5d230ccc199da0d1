package tinyllm;

import java.lang.management.ManagementFactory;

import com.sun.management.ThreadMXBean;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Heap bytes allocated per thread, from the JVM's own counters, for the zero-allocation tests.
 *
 * <p>Until C2 has compiled a loop, the interpreter and C1 allocate an object for every Vector API
 * operation, so a window of work is repeated until one allocates nothing on any thread (bounded in
 * time: on a loaded machine, or after other tests filled the compiler's queue, this takes a while);
 * only then is a window measured.
 */
public final class Allocations {
    private static final long WARM_UP_LIMIT_NANOS = 90_000_000_000L;
    private static final ThreadMXBean MX = (ThreadMXBean) ManagementFactory.getThreadMXBean();

    private Allocations() {}

    /**
     * Bytes each of {@code threads} allocated while {@code work} ran on the calling thread, which must be
     * threads[0]. Reading a counter may itself allocate, so the caller's own is read innermost.
     */
    public static long[] measure(Runnable work, Thread... threads) {
        long[] bytes = new long[threads.length];
        for (int i = 1; i < threads.length; i++) bytes[i] = -MX.getThreadAllocatedBytes(threads[i].threadId());
        long callerBefore = MX.getCurrentThreadAllocatedBytes();
        work.run();
        bytes[0] = MX.getCurrentThreadAllocatedBytes() - callerBefore;
        for (int i = 1; i < threads.length; i++) bytes[i] += MX.getThreadAllocatedBytes(threads[i].threadId());
        return bytes;
    }

    /** Runs {@code window} until a run allocates nothing on any of {@code threads}; fails past the time bound. */
    public static void warmUp(String what, Runnable window, Thread... threads) {
        long deadline = System.nanoTime() + WARM_UP_LIMIT_NANOS;
        int windows = 0;
        while (total(measure(window, threads)) != 0) {
            windows++;
            assertTrue(System.nanoTime() < deadline, what + " still allocates after " + windows + " warm-up windows");
        }
    }

    /** The calling thread alone: bytes it allocates over one run of {@code window}, once warm. */
    public static long onceWarm(String what, Runnable window) {
        Thread caller = Thread.currentThread();
        warmUp(what, window, caller);
        return measure(window, caller)[0];
    }

    private static long total(long[] bytes) {
        long sum = 0;
        for (long b : bytes) sum += b;
        return sum;
    }
}
