package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;
import static tinyllm.kernels.Simd.at;

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
            FloatVector.fromMemorySegment(F, stream, at(i), LE)
                    .add(FloatVector.fromMemorySegment(F, delta, at(i), LE))
                    .intoMemorySegment(stream, at(i), LE);
        }
        for (; i < to; i++) {
            stream.setAtIndex(FLOAT, i, stream.getAtIndex(FLOAT, i) + delta.getAtIndex(FLOAT, i));
        }
    }
}
