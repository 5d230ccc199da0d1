package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;
import static tinyllm.kernels.Simd.at;

/** GPT-2's activation: GELU with the tanh approximation the model was trained with (not the erf form). */
public final class Gelu {
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);
    private static final float CUBE_COEFF = 0.044715f;

    private Gelu() {}

    /** x[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in place, for elements i in [from, to) of x. */
    public static void forward(MemorySegment x, long from, long to) {
        Simd.requireFloats(x, from, to);
        long i = from;
        long upper = from + (to - from) / F.length() * F.length();
        for (; i < upper; i += F.length()) {
            FloatVector v = FloatVector.fromMemorySegment(F, x, at(i), LE);
            FloatVector inner = v.mul(v).mul(v).mul(CUBE_COEFF).add(v);
            FloatVector tanh = inner.mul(SQRT_2_OVER_PI).lanewise(VectorOperators.TANH);
            v.mul(0.5f).mul(tanh.add(1f)).intoMemorySegment(x, at(i), LE);
        }
        for (; i < to; i++) {
            float v = x.getAtIndex(FLOAT, i);
            float tanh = (float) Math.tanh(SQRT_2_OVER_PI * (v + CUBE_COEFF * v * v * v));
            x.setAtIndex(FLOAT, i, 0.5f * v * (1f + tanh));
        }
    }
}
