package tinyllm.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import tinyllm.api.Sampler;

/**
 * Prints what the softmax and a seeded sampler make of fixed logits, as numbers to compare across JVMs
 * ({@link SoftmaxTest} runs it with -Xint and compares with its own C2 code): the CRC of the weights' bits,
 * then the tokens of a seeded sample without top-k (the path over the whole vocabulary).
 */
public final class SoftmaxBits {
    static final int V = 50257, DRAWS = 20;

    public static void main(String[] args) {
        System.out.println(describe(1));
    }

    /**
     * The distinct figures of {@code rounds} runs of the same work, in order, one a line: many rounds take the
     * kernels from the interpreter through C1 to C2, and each tier must give the same line.
     */
    static String describe(int rounds) {
        MemorySegment logits = Arena.global().allocate((long) V * Float.BYTES, 64);
        Random random = new Random(7);
        for (int i = 0; i < V; i++) logits.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (random.nextGaussian() * 3));
        float[] weights = new float[V];
        MemorySegment weightsSegment = MemorySegment.ofArray(weights);
        double[] total = new double[1];
        java.util.LinkedHashSet<String> results = new java.util.LinkedHashSet<>();
        for (int round = 0; round < rounds; round++) {
            Softmax.weights(logits, V, 1 / 0.8f, weightsSegment, total);
            java.util.zip.CRC32 crc = new java.util.zip.CRC32();
            for (float w : weights) crc.update(Float.floatToRawIntBits(w));
            StringBuilder out = new StringBuilder("weights crc " + Long.toHexString(crc.getValue())
                    + " sum " + Double.doubleToRawLongBits(total[0]) + " tokens");
            Sampler sampler = new Sampler(V, 0.8f, 0, 1f, 1234);
            for (int i = 0; i < DRAWS; i++) out.append(' ').append(sampler.choose(logits, V));
            results.add(out.toString());
        }
        return String.join("\n", results);
    }
}
