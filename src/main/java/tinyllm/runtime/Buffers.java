package tinyllm.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The one way the engine allocates its buffers (activations, KV caches, scratch): off-heap, aligned for
 * the widest vector, in the owner's arena so that closing the owner frees them all.
 */
final class Buffers {
    private Buffers() {}

    /** {@code count} floats, 64-byte aligned. */
    static MemorySegment floats(Arena arena, long count) {
        return arena.allocate(Math.multiplyExact(count, (long) Float.BYTES), 64);
    }
}
