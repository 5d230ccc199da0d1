package tinyllm.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;

import tinyllm.TinyLlmException;

/**
 * The one way the engine allocates its buffers (activations, KV caches, scratch): off-heap, aligned for
 * the widest vector, in the owner's arena so that closing the owner frees them all.
 */
public final class Buffers {
    private Buffers() {}

    /**
     * Refuses {@code bytes} of buffers over three quarters of the machine's memory before they are allocated: an
     * allocation that large may be granted (memory is overcommitted) and then zeroed page by page until the system
     * kills the process, with no message; what is left is for the weights' pages and everything else. Asked only
     * from 1 GiB up: loading the management bean costs ~0.1 s, more than a small allocation takes.
     *
     * @param what what the bytes are for, as the error names it ("the KV caches of 16 sequence slots")
     */
    public static void requireMemory(long bytes, String what) {
        if (bytes < 1L << 30) {
            return;
        }
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long total = os.getTotalMemorySize();
        if (bytes > total / 4 * 3) {
            throw new TinyLlmException("cannot allocate " + what + ": " + bytes / 1_000_000 + " MB, more than three quarters of this machine's "
                    + total / 1_000_000 + " MB of memory");
        }
    }

    /** {@code count} floats, 64-byte aligned. */
    static MemorySegment floats(Arena arena, long count) {
        return arena.allocate(Math.multiplyExact(count, (long) Float.BYTES), 64);
    }
}
