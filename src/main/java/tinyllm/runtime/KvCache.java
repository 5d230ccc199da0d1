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
        long bytes = bytes(config, capacity);
        String what = "a session's KV cache for a context of " + capacity + " tokens x " + config.layers() + " layers x "
                + config.channels() + " channels";
        try {
            Buffers.requireMemory(bytes, what);
            for (int l = 0; l < config.layers(); l++) {
                keys[l] = Buffers.floats(arena, Attention.keyCacheFloats(config.channels(), capacity));
                values[l] = Buffers.floats(arena, (long) config.channels() * capacity);
            }
        } catch (OutOfMemoryError e) {
            arena.close();
            throw new TinyLlmException("cannot allocate " + what + ": " + bytes / 1_000_000 + " MB do not fit in memory ("
                    + e.getMessage() + ")", e);
        } catch (RuntimeException | Error e) {
            arena.close(); // what was allocated before the failure
            throw e;
        }
    }

    /** Bytes of one KV cache of {@code capacity} positions for {@code config}: keys and values of every layer. */
    public static long bytes(GPT2Config config, int capacity) {
        return config.layers() * (Attention.keyCacheFloats(config.channels(), capacity) + (long) config.channels() * capacity) * Float.BYTES;
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
