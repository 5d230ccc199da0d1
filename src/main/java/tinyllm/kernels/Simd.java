package tinyllm.kernels;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
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

    private Simd() {}
}
