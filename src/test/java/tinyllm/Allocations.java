package tinyllm;

import java.lang.management.ManagementFactory;

import com.sun.management.ThreadMXBean;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Heap bytes allocated per thread, from the JVM's own counters, for the zero-allocation tests.
 *
 * <p>The counters must be supported and on, and every reading valid: a disabled counter or a thread that
 * has died reads -1, and -1 - (-1) = 0 would pass any "allocates nothing" check. So each reading is
 * checked, and the tests that use this class run a positive control (a window that allocates must
 * measure more than zero, on the caller and on another thread).
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

    /** Fails unless this JVM counts the bytes each thread allocates. */
    public static void requireCounting() {
        assertTrue(MX.isThreadAllocatedMemorySupported(), "this JVM cannot count allocated bytes per thread");
        assertTrue(MX.isThreadAllocatedMemoryEnabled(), "per-thread allocation counting is disabled");
    }

    /**
     * Bytes each of {@code threads} allocated while {@code work} ran on the calling thread, which must be
     * threads[0]. Reading a counter may itself allocate, so the caller's own is read innermost.
     */
    public static long[] measure(Runnable work, Thread... threads) {
        requireCounting();
        if (threads.length == 0 || threads[0] != Thread.currentThread()) {
            fail("threads[0] must be the calling thread");
        }
        long[] before = new long[threads.length], bytes = new long[threads.length];
        for (int i = 1; i < threads.length; i++) before[i] = valid(MX.getThreadAllocatedBytes(threads[i].threadId()), threads[i]);
        before[0] = valid(MX.getCurrentThreadAllocatedBytes(), threads[0]);
        work.run();
        bytes[0] = valid(MX.getCurrentThreadAllocatedBytes(), threads[0]) - before[0];
        for (int i = 1; i < threads.length; i++) {
            bytes[i] = valid(MX.getThreadAllocatedBytes(threads[i].threadId()), threads[i]) - before[i];
        }
        return bytes;
    }

    /** Consecutive allocation-free windows that end a warm-up. */
    private static final int CLEAN_WINDOWS = 3;

    /** Runs {@code window} until {@link #CLEAN_WINDOWS} runs in a row allocate nothing on any of {@code threads}; fails past the time bound. */
    public static int warmUp(String what, Runnable window, Thread... threads) {
        long deadline = System.nanoTime() + WARM_UP_LIMIT_NANOS;
        int windows = 0;
        // Warm once several windows in a row allocate nothing: one clean window can come just before a late
        // recompilation (a deopt, an OSR compile) whose interpreted stretch allocates in the next one.
        for (int clean = 0; clean < CLEAN_WINDOWS; ) {
            long[] bytes = measure(window, threads);
            clean = total(bytes) == 0 ? clean + 1 : 0;
            if (clean > 0) continue;
            windows++;
            if (System.nanoTime() > deadline) {
                fail(what + " still allocates after " + windows + " warm-up windows: the last one allocated "
                        + java.util.Arrays.toString(bytes) + " bytes on " + java.util.Arrays.stream(threads).map(Thread::getName).toList());
            }
        }
        return windows;
    }

    /** The calling thread alone: bytes it allocates over one run of {@code window}, once warm. */
    public static long onceWarm(String what, Runnable window) {
        Thread caller = Thread.currentThread();
        warmUp(what, window, caller);
        return measureSteady(window, caller)[0];
    }

    private static final java.lang.management.CompilationMXBean JIT = ManagementFactory.getCompilationMXBean();
    private static final int STEADY_TRIES = 5;

    /**
     * {@link #measure}, over a window in which the JIT compiled nothing: up to {@value #STEADY_TRIES} windows, the
     * first one quiet counts (the last one if none was). A window in which C2 replaces a C1 method still runs
     * that method's C1 code, which allocates the objects C2 would have kept in registers (a record returned
     * per call, a few hundred bytes once): that is warm-up, not the steady state under test. Garbage that the
     * steady state makes shows in every window, quiet or not, so this cannot hide it.
     */
    public static long[] measureSteady(Runnable work, Thread... threads) {
        long[] bytes = null;
        for (int attempt = 0; attempt < STEADY_TRIES; attempt++) {
            long compiling = JIT.getTotalCompilationTime();
            bytes = measure(work, threads);
            if (JIT.getTotalCompilationTime() == compiling) {
                return bytes;
            }
        }
        return bytes;
    }

    /** -1 is what a disabled counter, or a thread that is not alive, reads. (No message built unless it fails: that would allocate.) */
    private static long valid(long reading, Thread thread) {
        if (reading < 0) {
            fail("no allocation count for " + thread.getName() + " (alive: " + thread.isAlive() + ")");
        }
        return reading;
    }

    private static long total(long[] bytes) {
        long sum = 0;
        for (long b : bytes) sum += b;
        return sum;
    }
}
