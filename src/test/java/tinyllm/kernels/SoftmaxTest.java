package tinyllm.kernels;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import tinyllm.ChildJvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The one softmax and its exp: accurate, the same bits in every lane and in every JIT tier. */
class SoftmaxTest {
    final Arena arena = Arena.ofConfined();
    final Random random = new Random(3);

    @AfterEach
    void close() {
        arena.close();
    }

    MemorySegment segment(float[] values) {
        MemorySegment s = arena.allocate((long) values.length * Float.BYTES, 64);
        MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT, 0, values.length);
        return s;
    }

    /**
     * Within 3 float ulps (3.6e-7 relative) of the true exp over the whole range it serves, [-87, 0]: the
     * polynomial's own error is 2e-8; the rest is the rounding of its seven steps and of the final scaling.
     */
    @Test
    void expIsWithinThreeUlpsOfTheTrueExp() {
        double worst = 0;
        for (int i = 0; i <= 2_000_000; i++) {
            float y = -87f * i / 2_000_000;
            double expected = Math.exp(y);
            double error = Math.abs(Softmax.exp(y) - expected) / expected;
            worst = Math.max(worst, error);
        }
        assertTrue(worst <= 3.6e-7, "worst relative error " + worst);
        assertEquals(1f, Softmax.exp(0f));
        assertEquals(1f, Softmax.exp(-0f));
        assertTrue(Float.isNaN(Softmax.exp(Float.NaN)));
        assertTrue(Softmax.exp(Float.NEGATIVE_INFINITY) < 1e-37f, "exp(-inf) is the clamp's ~1e-38");
    }

    /** n = 1003 is no multiple of any vector width: each weight, lane or tail, is the scalar exp's exact bits. */
    @Test
    void everyLaneAndTheTailGiveTheScalarBits() {
        int n = 1003;
        float[] logits = new float[n];
        for (int i = 0; i < n; i++) logits[i] = (float) (random.nextGaussian() * 4);
        float[] weights = new float[n];
        double[] total = new double[1];
        float max = Softmax.weights(segment(logits), n, 1.7f, MemorySegment.ofArray(weights), total);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float expected = Softmax.exp((logits[i] - max) * 1.7f);
            assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(weights[i]), "weight " + i);
            sum += weights[i];
        }
        assertEquals(sum, total[0]);
    }

    /** Against softmax in double, for rows shorter than a vector, of one vector and longer. */
    @Test
    void inPlaceMatchesTheSoftmaxInDouble() {
        for (int n : new int[] {1, 3, 16, 17, 100, 1025}) {
            float[] x = new float[n];
            for (int i = 0; i < n; i++) x[i] = (float) (random.nextGaussian() * 5);
            MemorySegment s = segment(x);
            Softmax.inPlace(s, n);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (float v : x) max = Math.max(max, v);
            for (float v : x) sum += Math.exp(v - max);
            for (int i = 0; i < n; i++) {
                double expected = Math.exp(x[i] - max) / sum;
                float actual = s.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                assertTrue(Math.abs(actual - expected) <= 1e-6 * Math.max(expected, 1e-3), n + " [" + i + "]: " + actual + " vs " + expected);
            }
        }
    }

    @Test
    void aNanLogitMakesTheSumNan() {
        float[] logits = new float[40];
        logits[33] = Float.NaN;
        double[] total = new double[1];
        Softmax.weights(segment(logits), 40, 1f, MemorySegment.ofArray(new float[40]), total);
        assertTrue(Double.isNaN(total[0]));
    }

    /**
     * The same weights and the same seeded draws in the interpreter (a child JVM under -Xint) as here, through
     * C1 and C2: Math.exp, the Vector API's EXP and reduceLanes(ADD) did not promise that, and a seeded sample
     * repeated 40 times in one JVM came out different 28 times.
     */
    @Test
    void theInterpreterAndEveryJitTierGiveTheSameBits() throws Exception {
        String here = SoftmaxBits.describe(300);
        assertEquals(1, here.lines().count(), "the figures changed between JIT tiers:\n" + here);
        assertEquals(here, interpreted());
    }

    static String interpreted() throws IOException, InterruptedException {
        return ChildJvm.output(120, List.of("-Xint"), SoftmaxBits.class);
    }
}
