package tinyllm.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import tinyllm.api.Sampler;
import tinyllm.model.DType;
import tinyllm.model.Matrix;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every kernel checks, once per call, that its segments hold what its shapes say it reads and writes
 * ({@link Simd#require}): the launcher and these tests switch the Vector API's check on every load off
 * (VECTOR_ACCESS_OOB_CHECK=0), so without the kernel's own check a wrong shape would read or write outside
 * a segment in silence. Each case passes one segment one float short of what the call needs and expects the
 * kernel's own message, which the Vector API's check (when on) does not give; each has a control: the same
 * call with the full-size segment runs.
 */
class KernelExtentsTest {
    private static final int T = 5, C = 32, OC = 24, NH = 2, MAXT = 8, V = 40;
    private final Arena arena = Arena.ofConfined();

    @AfterEach
    void close() {
        arena.close();
    }

    private MemorySegment floats(long n) {
        return arena.allocate(Math.max(n, 0) * Float.BYTES, 64);
    }

    /** The call fails with the kernel's own message when {@code short_} is given, and runs with {@code full}. */
    private static void shortByOne(Consumer<Boolean> call) {
        assertDoesNotThrow(() -> call.accept(false), "the control, with every segment full size");
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> call.accept(true));
        assertTrue(e.getMessage().startsWith("a kernel needs"), e.getMessage());
    }

    @Test
    void theVectorApisOwnCheckIsOffInTheseTests() {
        // Otherwise a kernel without its check could still pass here through the Vector API's exception.
        assertEquals("0", System.getProperty("jdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK"));
    }

    @Test
    void matmulChecksOutInBiasAndScratch() {
        Matrix weight = new Matrix(DType.FP32, floats((long) OC * C), null, OC, C, 0);
        for (int which = 0; which < 4; which++) {
            int w = which;
            shortByOne(cut -> MatMul.forward(
                    floats((long) T * OC - (cut && w == 0 ? 1 : 0)), floats((long) T * C - (cut && w == 1 ? 1 : 0)), null,
                    weight, floats(OC - (cut && w == 2 ? 1 : 0)), T, C, OC, 0, OC,
                    floats(MatMul.scratchFloats(C) - (cut && w == 3 ? 1 : 0))));
        }
    }

    @Test
    void matmulChecksItsChannelsAgainstTheMatrix() {
        Matrix weight = new Matrix(DType.FP32, floats((long) OC * C), null, OC, C, 0);
        Executable beyond = () -> MatMul.forward(floats((long) T * (OC + 4)), floats((long) T * C), null, weight, null,
                T, C, OC + 4, 0, OC + 4, floats(MatMul.scratchFloats(C)));
        assertThrows(IndexOutOfBoundsException.class, beyond);
        Executable past = () -> MatMul.forward(floats((long) T * OC), floats((long) T * C), null, weight, null,
                T, C, OC, 4, OC + 4, floats(MatMul.scratchFloats(C)));
        assertThrows(IndexOutOfBoundsException.class, past);
    }

    @Test
    void aMatrixMustFitItsSegments() {
        assertThrows(IllegalArgumentException.class, () -> new Matrix(DType.FP32, floats((long) OC * C - 1), null, OC, C, 0));
        assertThrows(IllegalArgumentException.class, () -> new Matrix(DType.Q8, arena.allocate((long) OC * C),
                floats((long) OC * C / 16 - 1), OC, C, 16));
        assertThrows(IllegalArgumentException.class, () -> new Matrix(DType.Q8, arena.allocate((long) OC * C),
                floats((long) OC * C / 16), OC, C, 12));
        assertDoesNotThrow(() -> new Matrix(DType.Q8, arena.allocate((long) OC * C), floats((long) OC * C / 16), OC, C, 16));
    }

    @Test
    void attentionChecksTheCacheTheOutputAndTheScores() {
        int rows = 2, pos0 = 3; // rows 0..1 of a batch at positions 3..4
        MemorySegment qkv = floats((long) rows * 3 * C);
        for (int which = 0; which < 4; which++) {
            int w = which;
            shortByOne(cut -> Attention.forward(floats((long) rows * C - (cut && w == 0 ? 1 : 0)), qkv,
                    floats(Attention.keyCacheFloats(C, MAXT) - (cut && w == 1 ? 1 : 0)),
                    floats((long) C * MAXT - (cut && w == 2 ? 1 : 0)),
                    floats(Attention.scoreFloats(pos0 + rows) - (cut && w == 3 ? 1 : 0)), 0, pos0, C, NH, MAXT, 0, rows * NH));
        }
        assertThrows(IndexOutOfBoundsException.class, () -> Attention.forward(floats((long) rows * C), qkv,
                floats(Attention.keyCacheFloats(C, MAXT)), floats((long) C * MAXT), floats(Attention.scoreFloats(MAXT + 1)),
                0, MAXT - 1, C, NH, MAXT, 0, rows * NH));
    }

    @Test
    void elementwiseKernelsCheckTheirRange() {
        long n = (long) T * C;
        shortByOne(cut -> Gelu.forward(floats(n - (cut ? 1 : 0)), 0, n));
        shortByOne(cut -> Residual.forward(floats(n - (cut ? 1 : 0)), floats(n), 0, n));
        shortByOne(cut -> Residual.forward(floats(n), floats(n - (cut ? 1 : 0)), 0, n));
        for (int which = 0; which < 4; which++) {
            int w = which;
            shortByOne(cut -> LayerNorm.forward(floats(n - (cut && w == 0 ? 1 : 0)), floats(n - (cut && w == 1 ? 1 : 0)),
                    floats(C - (cut && w == 2 ? 1 : 0)), floats(C - (cut && w == 3 ? 1 : 0)), C, 0, T));
        }
    }

    @Test
    void softmaxAndTheSamplerCheckTheirVectors() {
        shortByOne(cut -> Softmax.inPlace(floats(V - (cut ? 1 : 0)), V));
        shortByOne(cut -> Softmax.weights(floats(V - (cut ? 1 : 0)), V, 1f, floats(V), new double[1]));
        shortByOne(cut -> Softmax.weights(floats(V), V, 1f, floats(V - (cut ? 1 : 0)), new double[1]));
        Sampler sampler = new Sampler(V, 1f, 0, 1f, 7);
        shortByOne(cut -> sampler.choose(floats(V - (cut ? 1 : 0)), V));
    }

    @Test
    void theEncoderChecksItsOutputAndEveryTokenAndPosition() {
        Matrix wte = new Matrix(DType.FP32, floats((long) V * C), null, V, C, 0);
        Matrix wpe = new Matrix(DType.FP32, floats((long) MAXT * C), null, MAXT, C, 0);
        int[] tokens = {1, 2, 3, 4, V - 1}, positions = {0, 1, 2, 3, MAXT - 1};
        shortByOne(cut -> Encoder.forward(floats((long) T * C - (cut ? 1 : 0)), wte, wpe, tokens, positions, T, C));
        int[] badToken = {1, 2, V, 4, 5}, badPosition = {0, 1, 2, MAXT, 4};
        assertThrows(IndexOutOfBoundsException.class, () -> Encoder.forward(floats((long) T * C), wte, wpe, badToken, positions, T, C));
        assertThrows(IndexOutOfBoundsException.class, () -> Encoder.forward(floats((long) T * C), wte, wpe, tokens, badPosition, T, C));
    }
}
