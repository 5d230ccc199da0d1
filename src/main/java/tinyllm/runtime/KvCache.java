package tinyllm.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import tinyllm.TinyLlmException;
import tinyllm.kernels.Attention;
import tinyllm.model.GPT2Config;

/**
 * One sequence's keys and values, per layer, for up to {@code capacity} positions, allocated once: the
 * layout is {@link Attention}'s. A cache knows nothing of how many positions it holds; its owner (a
 * session, a batch sequence) keeps the position.
 */
public final class KvCache implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final int capacity;
    private final MemorySegment[] keys;   // per layer (NH, capacity / L, hs, L) in vector-wide tiles
    private final MemorySegment[] values; // per layer (NH, capacity, hs)

    /** @param capacity positions, 1 to the model's context length (checked by the caller) */
    public KvCache(GPT2Config config, int capacity) {
        if (capacity < 1 || capacity > config.maxSeqLen()) {
            throw new IllegalArgumentException("a KV cache holds 1.." + config.maxSeqLen() + " positions, not " + capacity);
        }
        this.capacity = capacity;
        this.keys = new MemorySegment[config.layers()];
        this.values = new MemorySegment[config.layers()];
        long bytes = config.layers() * (Attention.keyCacheFloats(config.channels(), capacity)
                + (long) config.channels() * capacity) * Float.BYTES;
        try {
            requireMemory(bytes, config, capacity);
            for (int l = 0; l < config.layers(); l++) {
                keys[l] = Buffers.floats(arena, Attention.keyCacheFloats(config.channels(), capacity));
                values[l] = Buffers.floats(arena, (long) config.channels() * capacity);
            }
        } catch (OutOfMemoryError e) {
            arena.close();
            throw new TinyLlmException("cannot allocate a session: " + describe(bytes, config, capacity)
                    + " and does not fit in memory (" + e.getMessage() + ")", e);
        } catch (RuntimeException | Error e) {
            arena.close(); // what was allocated before the failure
            throw e;
        }
    }

    /**
     * Refuses a KV cache larger than the machine's memory before allocating it: each layer's piece might be
     * granted (memory is overcommitted) and then zeroed until the system kills the process. Asked only for
     * caches over 1 GiB: loading the management bean costs ~0.1 s, more than a small cache takes to make.
     */
    private static void requireMemory(long bytes, GPT2Config config, int capacity) {
        if (bytes < 1L << 30) {
            return;
        }
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        if (bytes > os.getTotalMemorySize()) {
            throw new TinyLlmException("cannot allocate a session: " + describe(bytes, config, capacity)
                    + ", more than this machine's " + os.getTotalMemorySize() / 1_000_000 + " MB of memory");
        }
    }

    private static String describe(long bytes, GPT2Config config, int capacity) {
        return "its KV cache for a context of " + capacity + " tokens x " + config.layers() + " layers x "
                + config.channels() + " channels needs " + bytes / 1_000_000 + " MB";
    }

    /** The most positions the cache holds. */
    public int capacity() {
        return capacity;
    }

    MemorySegment keys(int layer) {
        return keys[layer];
    }

    MemorySegment values(int layer) {
        return values[layer];
    }

    /** Frees the cache. */
    @Override
    public void close() {
        arena.close();
    }
}
