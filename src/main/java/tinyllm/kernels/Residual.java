package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;

/** The residual connection: each block adds its output to the stream that runs through the model. */
public final class Residual {
    private Residual() {}

    /** stream[i] += delta[i] for elements i in [from, to); stream, delta (T,C). */
    public static void forward(MemorySegment stream, MemorySegment delta, long from, long to) {
        Simd.requireFloats(stream, from, to);
        Simd.requireFloats(delta, from, to);
        long i = from;
        long upper = from + (to - from) / F.length() * F.length();
        for (; i < upper; i += F.length()) {
            long o = i * Float.BYTES;
            FloatVector.fromMemorySegment(F, stream, o, LE)
                    .add(FloatVector.fromMemorySegment(F, delta, o, LE))
                    .intoMemorySegment(stream, o, LE);
        }
        for (; i < to; i++) {
            long o = i * Float.BYTES;
            stream.set(FLOAT, o, stream.get(FLOAT, o) + delta.get(FLOAT, o));
        }
    }
}
