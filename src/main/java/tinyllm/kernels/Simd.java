package tinyllm.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import tinyllm.model.BFloat16;

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
    /** One int8 weight (q8), for the scalar tails and packing. */
    public static final ValueLayout.OfByte INT8 = ValueLayout.JAVA_BYTE;
    /** Shorts as many as F has floats (256 bits for 512-bit floats): a bf16 load that widens into exactly one float vector. */
    public static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.length() * Short.SIZE));
    /** Bytes as many as F has floats (16 bytes for 512-bit floats): a q8 load that widens into exactly one float vector. */
    public static final VectorSpecies<Byte> Q = VectorSpecies.of(byte.class, VectorShape.forBitSize(F.length() * Byte.SIZE));

    static {
        loadEverySegmentClass();
    }

    /**
     * Loads the JDK's heap segment classes (one per array type) before any kernel is compiled. C2 compiles
     * a kernel's segment accesses against the segment classes loaded so far; the first heap segment of a
     * new kind (the Vector API's own fallback code makes a byte[] one when an op runs interpreted, the
     * sampler a float[] one) invalidates every compiled kernel at once. On a cold CLI run that happened
     * mid-generation: all kernels back to the interpreter for the ~0.5 s C2 took to compile them again.
     */
    private static void loadEverySegmentClass() {
        MemorySegment.ofArray(new byte[0]);
        MemorySegment.ofArray(new char[0]);
        MemorySegment.ofArray(new short[0]);
        MemorySegment.ofArray(new int[0]);
        MemorySegment.ofArray(new float[0]);
        MemorySegment.ofArray(new long[0]);
        MemorySegment.ofArray(new double[0]);
    }

    /**
     * The byte offset of float element i: kernels do their arithmetic in elements, as the math reads, and turn
     * an index into the Vector API's byte offset only here, at the access. It returns a long, not a vector, on
     * purpose: a helper that loaded or stored the vector itself was left out of line by C2 in some kernels (once
     * compiled on its own, "already compiled into a medium method"), and every vector through it was boxed.
     * This one is trivial (six bytes of bytecode), which C2 inlines everywhere.
     */
    public static long at(long i) {
        return i * Float.BYTES;
    }

    /** The byte offset of bf16 element i (see {@link #at}). */
    public static long bf16At(long i) {
        return i * Short.BYTES;
    }

    /** dst[to .. to + n) = src[from .. from + n), element indices. */
    public static void copy(MemorySegment src, long from, MemorySegment dst, long to, long n) {
        MemorySegment.copy(src, FLOAT, at(from), dst, FLOAT, at(to), n);
    }

    /**
     * Reads the byte at {@code byteOffset} of {@code segment} and drops it (a byte: any offset is aligned for it,
     * such as a bf16 row's start in a row of odd length): the scalar accessor compiles to
     * an Unsafe access, which marks the whole compiled method as one that may fault on memory. For such
     * methods HotSpot turns a SIGBUS (a read from a mapped checkpoint truncated under the engine) into an
     * {@link InternalError} in the reading thread, which the API reports as a changed file; in a method
     * with Vector API loads only, the same fault kills the JVM. So every method that loads vectors from the
     * weights calls this first, with an offset it is about to read (a line in cache, not another miss).
     */
    public static void faultable(MemorySegment segment, long byteOffset) {
        segment.get(INT8, byteOffset);
    }

    /**
     * Throws {@link IndexOutOfBoundsException} unless {@code segment} holds at least {@code bytes} bytes. Each
     * kernel checks the extent of every segment it loads vectors from or stores vectors into once per call,
     * from its shapes, so the Vector API's own check on every single load can be switched off: the launcher
     * runs with {@code -Djdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK=0}, and a wrong shape is still an
     * exception, never a read outside a segment. (Scalar accesses keep the segment's own check.)
     */
    public static void require(MemorySegment segment, long bytes) {
        if (bytes < 0 || segment.byteSize() < bytes) {
            throw new IndexOutOfBoundsException("a kernel needs " + bytes + " bytes of a segment of " + segment.byteSize());
        }
    }

    /** {@link #require} for {@code floats} floats. */
    public static void requireFloats(MemorySegment segment, long floats) {
        require(segment, floats * Float.BYTES);
    }

    /** {@link #require} for float elements [from, to) of {@code segment}, from ≤ to. */
    public static void requireFloats(MemorySegment segment, long from, long to) {
        if (from < 0 || from > to) {
            throw new IndexOutOfBoundsException("a kernel was given elements [" + from + ", " + to + ")");
        }
        requireFloats(segment, to);
    }

    /** fp32 value of bf16 element {@code index} of a segment. */
    public static float bf16(MemorySegment segment, long index) {
        return BFloat16.toFloat(segment.get(BF16, index * Short.BYTES));
    }

    private Simd() {}
}
