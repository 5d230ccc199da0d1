package tinyllm.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import tinyllm.model.DType;
import tinyllm.model.Int8Blocks;
import tinyllm.model.Matrix;
import tinyllm.reference.NaiveGPT2;
import tinyllm.reference.Q8Matrices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each kernel against the naive float[] operation of the same name, on random inputs. Sizes are chosen
 * not to be multiples of any vector width (37, 13, head size 12), so every scalar tail runs too.
 * Inputs are copied into native segments first: kernels must only ever see one kind of segment.
 */
class KernelsTest {
    /** Float32 sums of a few dozen N(0,1) products in another order differ by ~1e-6 relative. */
    static final float TOLERANCE = 2e-5f;

    final Arena arena = Arena.ofConfined();
    final Random random = new Random(42);

    @AfterEach
    void close() {
        arena.close();
    }

    float[] randoms(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) random.nextGaussian();
        return a;
    }

    MemorySegment native_(float[] values) {
        MemorySegment s = arena.allocate((long) Math.max(1, values.length) * Float.BYTES, 64);
        MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT, 0, values.length);
        return s;
    }

    MemorySegment packed() {
        return native_(new float[MatMul.scratchFloats(3073)]);
    }

    Matrix fp32(float[] w, int rows, int cols) {
        return new Matrix(DType.FP32, native_(w), null, rows, cols, 0);
    }

    /** w quantized as a q8 checkpoint stores it; w now holds the dequantized values (see {@link Q8Matrices}). */
    Matrix q8(float[] w, int rows, int cols, int block) {
        return Q8Matrices.quantize(arena, w, rows, cols, block);
    }

    static float[] floats(MemorySegment s, int n) {
        return s.asSlice(0, (long) n * Float.BYTES).toArray(ValueLayout.JAVA_FLOAT);
    }

    static void assertClose(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            float tolerance = TOLERANCE * Math.max(1f, Math.abs(expected[i]));
            int at = i;
            assertTrue(Math.abs(expected[i] - actual[i]) <= tolerance,
                    () -> "element " + at + ": expected " + expected[at] + ", got " + actual[at]);
        }
    }

    /** Each row has its own position, as rows of a batch from several sequences have. */
    @ParameterizedTest(name = "T={0} C={1}")
    @CsvSource({"1,48", "3,37", "5,768"})
    void encoderAddsTokenAndPositionRows(int T, int C) {
        int vocab = 13, maxT = 9;
        float[] wte = randoms(vocab * C), wpe = randoms(maxT * C);
        int[] tokens = new int[T], positions = new int[T];
        for (int t = 0; t < T; t++) {
            tokens[t] = random.nextInt(vocab);
            positions[t] = random.nextInt(maxT);
        }

        MemorySegment out = native_(new float[T * C]);
        Encoder.forward(out, fp32(wte, vocab, C), fp32(wpe, maxT, C), tokens, positions, T, C);

        // The naive encoder puts row t at position t: give it each row alone, its position's row of wpe first.
        float[] expected = new float[T * C];
        for (int t = 0; t < T; t++) {
            float[] row = new float[C];
            float[] wpeAt = java.util.Arrays.copyOfRange(wpe, positions[t] * C, positions[t] * C + C);
            NaiveGPT2.encoder(row, new int[] {tokens[t]}, wte, wpeAt, 1, C);
            System.arraycopy(row, 0, expected, t * C, C);
        }
        assertClose(expected, floats(out, T * C));
    }

    @ParameterizedTest(name = "T={0} C={1}")
    @CsvSource({"1,48", "4,37", "3,768"})
    void layerNormMatchesReference(int T, int C) {
        float[] in = randoms(T * C), w = randoms(C), b = randoms(C);
        for (int i = 0; i < in.length; i++) in[i] = in[i] * 3 + 5; // a mean and spread far from 0 and 1
        MemorySegment out = native_(new float[T * C]);
        LayerNorm.forward(out, native_(in), native_(w), native_(b), C, 0, T);
        float[] expected = new float[T * C];
        NaiveGPT2.layernorm(expected, in, w, 0, b, 0, T, C);
        assertClose(expected, floats(out, T * C));
    }

    @ParameterizedTest(name = "T={0} C={1} OC={2}")
    @CsvSource({"1,48,144", "3,37,13", "2,768,7", "5,17,4", "1,3,2",
            // Batched decode, weights read in place: blocks of four rows and rows left over, C a whole number
            // of vectors (dot4x4) or not (row by row)
            "16,768,148", "7,37,100", "9,768,150", "13,600,53", "32,48,144", "35,37,100", "37,768,150", "64,3072,96",
            // GEMM shapes (T >= MatMul.GEMM_MIN_ROWS): whole panels plus leftover rows and channels, and C
            // spanning several KC panels
            "80,48,144", "83,37,100", "85,768,150", "96,3072,96"})
    void matmulMatchesReference(int T, int C, int OC) {
        float[] in = randoms(T * C), w = randoms(OC * C), b = randoms(OC);
        // Scale the weights as a trained layer's are, so outputs stay O(1) and the tolerance means the same at every C.
        for (int i = 0; i < w.length; i++) w[i] /= (float) Math.sqrt(C);
        float[] expected = new float[T * OC];
        NaiveGPT2.matmul(expected, in, w, 0, b, 0, T, C, OC);

        MemorySegment out = native_(new float[T * OC]);
        MatMul.forward(out, native_(in), null, fp32(w, OC, C), native_(b), T, C, OC, 0, OC, packed());
        assertClose(expected, floats(out, T * OC));
    }

    /**
     * q8 weights against the naive product of the same weights dequantized (int8 × scale in fp32), split between
     * two calls as two threads split the channels: only the order of the sums differs. Blocks of 32 (GPT-2's), 16
     * (the micro fixtures'), and 8 and 4 (narrower than a vector on most machines: the element-wise path); rows of
     * an odd number of blocks (C = 96: the decode kernel's last block alone).
     */
    @ParameterizedTest(name = "T={0} C={1} OC={2} block={3}")
    @CsvSource({"1,768,148,32", "1,96,13,32", "3,96,9,32", "1,48,144,16", "2,768,7,32", "3,3072,9,32", "1,64,13,8", "3,36,10,4",
            "4,768,148,32", "7,48,100,16", "16,768,150,32", "13,3072,53,32", "6,64,13,8",
            "80,48,144,16", "85,768,150,32", "96,3072,96,32", "81,64,50,8"})
    void q8MatmulMatchesDequantizedReference(int T, int C, int OC, int block) {
        float[] in = randoms(T * C), w = randoms(OC * C), b = randoms(OC);
        for (int i = 0; i < w.length; i++) w[i] /= (float) Math.sqrt(C);
        Matrix weight = q8(w, OC, C, block);
        float[] expected = new float[T * OC];
        NaiveGPT2.matmul(expected, in, w, 0, b, 0, T, C, OC);

        MemorySegment out = native_(new float[T * OC]), inS = native_(in), bS = native_(b);
        int middle = OC / 2 / MatMul.channelAlignment(T) * MatMul.channelAlignment(T);
        MatMul.forward(out, inS, null, weight, bS, T, C, OC, 0, middle, packed());
        MatMul.forward(out, inS, null, weight, bS, T, C, OC, middle, OC, packed());
        assertClose(expected, floats(out, T * OC));
    }

    /** The q8 embedding lookup: each row its token's and its position's dequantized rows. */
    @Test
    void q8EncoderAddsDequantizedRows() {
        int T = 3, C = 64, vocab = 11, maxT = 5;
        float[] wte = randoms(vocab * C), wpe = randoms(maxT * C);
        Matrix qte = q8(wte, vocab, C, 32), qpe = q8(wpe, maxT, C, 16);
        int[] tokens = {3, 10, 0}, positions = {4, 0, 2};
        MemorySegment out = native_(new float[T * C]);
        Encoder.forward(out, qte, qpe, tokens, positions, T, C);
        float[] expected = new float[T * C];
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < C; i++) expected[t * C + i] = wte[tokens[t] * C + i] + wpe[positions[t] * C + i];
        }
        assertClose(expected, floats(out, T * C));
    }

    /** The one quantization rule: absmax to ±127 exactly, nearest (ties to even) in between, zeros to zeros. */
    @Test
    void quantizationRoundsToNearestWithinTheBlockScale() {
        float[] block = {254f, -127f, 5f, 3f, 0.8f, -254f}; // absmax 254: scale 2, exactly
        float scale = Int8Blocks.scale(block, 0, block.length);
        assertEquals(2f, scale);
        assertEquals(127, Int8Blocks.quantize(254f, scale));
        assertEquals(-127, Int8Blocks.quantize(-254f, scale));
        assertEquals(-64, Int8Blocks.quantize(-127f, scale), "-63.5 ties to even");
        assertEquals(2, Int8Blocks.quantize(5f, scale), "2.5 ties to even");
        assertEquals(2, Int8Blocks.quantize(3f, scale), "1.5 ties to even");
        assertEquals(0, Int8Blocks.quantize(0.8f, scale));
        assertEquals(0, Int8Blocks.quantize(0.3f, 0f), "a block of zeros has scale 0");
        assertEquals(0f, Int8Blocks.scale(new float[4], 0, 4));
    }

    /** The GEMM cases above reach the GEMM; the batched ones reach the four-by-four dot products. */
    @Test
    void theMatmulCasesReachBothPaths() {
        assertTrue(MatMul.packs(80) && !MatMul.packs(64), "GEMM_MIN_ROWS moved: move the CSV cases with it");
    }

    /** bf16 weights: the reference multiplies the same values, widened to fp32, so only summation order differs. */
    @ParameterizedTest(name = "T={0} C={1} OC={2}")
    @CsvSource({"1,48,144", "1,37,13", "2,768,7", "3,3073,9", "4,48,144", "7,37,100", "9,768,150", "1,2,1",
            "32,48,144", "35,37,100", "37,768,150", "80,48,144", "83,37,100", "85,768,150"})
    void bf16MatmulMatchesReference(int T, int C, int OC) {
        float[] in = randoms(T * C), w = randoms(OC * C), b = randoms(OC);
        MemorySegment wBf16 = arena.allocate((long) OC * C * Short.BYTES, 64);
        for (int i = 0; i < w.length; i++) {
            short bits = tinyllm.model.BFloat16.round(w[i] / (float) Math.sqrt(C));
            wBf16.setAtIndex(ValueLayout.JAVA_SHORT, i, bits);
            w[i] = Float.intBitsToFloat(bits << 16);
        }
        float[] expected = new float[T * OC];
        NaiveGPT2.matmul(expected, in, w, 0, b, 0, T, C, OC);

        MemorySegment inS = native_(in), split = native_(new float[T * C]), out = native_(new float[T * OC]);
        MatMulBf16.splitEvenOdd(split, inS, T, C);
        MemorySegment bS = native_(b);
        int middle = OC / 2 / MatMul.channelAlignment(T) * MatMul.channelAlignment(T);
        Matrix weight = new Matrix(DType.BF16, wBf16, null, OC, C, 0);
        MatMul.forward(out, inS, split, weight, bS, T, C, OC, 0, middle, packed());
        MatMul.forward(out, inS, split, weight, bS, T, C, OC, middle, OC, packed());
        assertClose(expected, floats(out, T * OC));
    }

    @Test
    void matmulComputesOnlyItsChannelRangeAndTakesNoBias() {
        int T = 2, C = 37, OC = 13;
        float[] in = randoms(T * C), w = randoms(OC * C);
        float[] expected = new float[T * OC];
        NaiveGPT2.matmul(expected, in, w, 0, null, 0, T, C, OC);

        MemorySegment out = native_(new float[T * OC]);
        MemorySegment inS = native_(in);
        Matrix wS = fp32(w, OC, C);
        MatMul.forward(out, inS, null, wS, null, T, C, OC, 0, 5, packed());
        float[] half = floats(out, T * OC);
        assertEquals(0f, half[5], "channel 5 belongs to the other range");
        MatMul.forward(out, inS, null, wS, null, T, C, OC, 5, OC, packed());
        assertClose(expected, floats(out, T * OC));
    }

    /**
     * Feeds the first {@code pos0} rows through the cache, then checks the attention of the next T rows, read
     * from rows [pos0, pos0 + T) of the same buffer as a batch's later run would be.
     */
    @ParameterizedTest(name = "pos0={0} T={1} C={2} NH={3}")
    @CsvSource({"0,7,48,4", "5,3,48,4", "9,1,48,4", "0,20,64,2", "18,2,64,2", "0,33,768,12", "40,1,768,12"})
    void attentionOverTheCacheMatchesReference(int pos0, int T, int C, int NH) {
        int maxT = 64, total = pos0 + T;
        float[] qkv = randoms(total * 3 * C);
        float[] expected = new float[total * C];
        NaiveGPT2.attention(expected, qkv, total, C, NH);

        MemorySegment keys = native_(new float[(int) Attention.keyCacheFloats(C, maxT)]), values = native_(new float[C * maxT]);
        MemorySegment all = native_(qkv);
        if (pos0 > 0) {
            Attention.storeKeysValues(keys, values, all, 0, 0, C, NH, maxT, 0, pos0 * NH);
        }
        // The new rows' keys and values in two calls over the (row, head) items, as two threads would split them.
        Attention.storeKeysValues(keys, values, all, pos0, pos0, C, NH, maxT, 0, T * NH / 2);
        Attention.storeKeysValues(keys, values, all, pos0, pos0, C, NH, maxT, T * NH / 2, T * NH);
        MemorySegment out = native_(new float[total * C]);
        MemorySegment scores = native_(new float[Attention.scoreFloats(maxT)]);
        // Two calls over the (row, head) items, as two threads would split them.
        int items = T * NH, half = items / 2;
        Attention.forward(out, all, keys, values, scores, pos0, pos0, C, NH, maxT, 0, half);
        Attention.forward(out, all, keys, values, scores, pos0, pos0, C, NH, maxT, half, items);
        assertClose(java.util.Arrays.copyOfRange(expected, pos0 * C, total * C),
                java.util.Arrays.copyOfRange(floats(out, total * C), pos0 * C, total * C));
    }

    @Test
    void geluMatchesReferenceIncludingLargeValues() {
        float[] x = randoms(3 * 37 + 5);
        x[0] = 12f;
        x[1] = -12f;
        x[2] = 0f;
        float[] expected = new float[x.length];
        NaiveGPT2.gelu(expected, x);
        MemorySegment s = native_(x);
        Gelu.forward(s, 0, 50);
        Gelu.forward(s, 50, x.length);
        assertClose(expected, floats(s, x.length));
    }

    @Test
    void residualAddsInPlace() {
        float[] x = randoms(101), d = randoms(101);
        MemorySegment xs = native_(x);
        Residual.forward(xs, native_(d), 0, 101);
        NaiveGPT2.residual(x, d);
        assertClose(x, floats(xs, 101));
    }

    @Test
    void argmaxTakesTheLowestIdOnATie() {
        float[] logits = randoms(500);
        logits[123] = 10f;
        logits[321] = 10f;
        assertEquals(123, Argmax.forward(native_(logits), 500));
        assertEquals(NaiveGPT2.argmax(java.util.Arrays.copyOf(logits, 100)), Argmax.forward(native_(logits), 100));
    }

    /** Every length around the vector width, the largest value in every place: the vector passes and the tail agree with the reference. */
    @Test
    void argmaxMatchesTheReferenceWhereverTheLargestValueIs() {
        for (int V = 1; V <= 3 * Simd.LANES + 3; V++) {
            for (int at = 0; at < V; at++) {
                float[] logits = randoms(V);
                logits[at] = 50f;
                assertEquals(at, Argmax.forward(native_(logits), V), "V=" + V);
                assertEquals(NaiveGPT2.argmax(logits), Argmax.forward(native_(logits), V), "V=" + V);
                if (at + 1 < V) {
                    logits[V - 1] = 50f; // a tie with a later one: the lower id
                    assertEquals(at, Argmax.forward(native_(logits), V), "V=" + V + " tie");
                }
            }
        }
    }

    /** A NaN or an infinity anywhere, in a vector or in the tail, answers -1, never a token. */
    @Test
    void argmaxRefusesNanAndInfinityAnywhere() {
        int V = 2 * Simd.LANES + 5;
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            for (int at = 0; at < V; at++) {
                float[] logits = randoms(V);
                logits[at] = bad;
                assertEquals(-1, Argmax.forward(native_(logits), V), bad + " at " + at);
            }
        }
        assertEquals(V - 1, Argmax.forward(native_(randomsWithMaxAtEnd(V)), V), "control: the same sizes without one answer a token");
    }

    private float[] randomsWithMaxAtEnd(int n) {
        float[] logits = randoms(n);
        logits[n - 1] = 9f;
        return logits;
    }
}
