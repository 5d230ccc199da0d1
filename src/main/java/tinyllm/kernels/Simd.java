package tinyllm.kernels;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector shape every kernel uses: the widest the CPU runs well (AVX-512: 16 floats, AVX2: 8),
 * chosen by the JVM at start-up. Kernels never assume a width; each vector loop has its scalar tail
 * beside it.
 */
public final class Simd {
    public static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    public static final int LANES = F.length();
    /** llm.c checkpoints and all our buffers are little-endian, whatever the platform. */
    public static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** One float in a segment, for the scalar tails. */
    public static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT.withOrder(LE);
    /** One bf16 value (the high half of an fp32) in a segment, for the scalar tails. */
    public static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT.withOrder(LE);
    /** Ints of the same vector width: a bf16 weight vector is loaded as ints, two weights each. */
    public static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;

    /** fp32 value of bf16 element {@code index} of a segment. */
    public static float bf16(java.lang.foreign.MemorySegment segment, long index) {
        return Float.intBitsToFloat(segment.get(BF16, index * Short.BYTES) << 16);
    }

    private Simd() {}
}
