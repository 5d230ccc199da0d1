package tinyllm.reference;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import tinyllm.model.DType;
import tinyllm.model.Int8Blocks;
import tinyllm.model.Matrix;

/** A float[] matrix as a q8 checkpoint stores it, for the kernel tests and the JMH bench. */
public final class Q8Matrices {
    private Q8Matrices() {}

    /**
     * w (rows, cols) quantized by the one rule ({@link Int8Blocks}) in blocks of {@code block}, in native memory of
     * {@code arena}. w is overwritten with the values the matrix now holds (int8 × scale), so a reference
     * multiplying w sees exactly the kernel's weights.
     */
    public static Matrix quantize(Arena arena, float[] w, int rows, int cols, int block) {
        MemorySegment data = arena.allocate((long) rows * cols, 64);
        MemorySegment scales = arena.allocate((long) rows * cols / block * Float.BYTES, 64);
        for (int b = 0; b < rows * cols / block; b++) {
            float scale = Int8Blocks.scale(w, b * block, block);
            scales.setAtIndex(ValueLayout.JAVA_FLOAT, b, scale);
            for (int i = b * block; i < (b + 1) * block; i++) {
                byte q = Int8Blocks.quantize(w[i], scale);
                data.set(ValueLayout.JAVA_BYTE, i, q);
                w[i] = q * scale;
            }
        }
        return new Matrix(DType.Q8, data, scales, rows, cols, block);
    }
}
