package tinyllm.model;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One weight matrix (rows, cols) as the checkpoint stores it, read in place: the kernels take this value and
 * choose their code by its {@link #encoding}, so the forward pass has one call per matrix product whatever
 * the storage type.
 *
 * @param encoding fp32, bf16 or q8
 * @param data     (rows, cols) elements in the encoding: 4, 2 or 1 bytes each
 * @param scales   q8: (rows, cols / block) fp32 scales, element [r, c] being data[r, c] × scales[r, c / block];
 *                 null for the other encodings
 * @param block    q8: elements of a row per scale; 0 for the other encodings
 */
public record Matrix(DType encoding, MemorySegment data, MemorySegment scales, int rows, int cols, int block) {

    /** The segments hold (rows, cols) elements and, for q8, their scales: the kernels rely on it. */
    public Matrix {
        long elements = (long) rows * cols;
        boolean scaled = encoding == DType.Q8;
        if (rows < 0 || cols < 0 || data.byteSize() < elements * encoding.matrixElementBytes()
                || (scaled && (block <= 0 || cols % block != 0 || scales == null || scales.byteSize() < elements / block * Float.BYTES))) {
            throw new IllegalArgumentException("a (" + rows + "," + cols + ") " + encoding.label() + " matrix"
                    + (scaled ? " in blocks of " + block : "") + " does not fit its segments");
        }
    }

    /** A view of a matrix stored at {@code at} in {@code parameters}: for q8, its elements then its scales. */
    static Matrix of(DType encoding, MemorySegment parameters, long at, int rows, int cols, int block) {
        long elements = (long) rows * cols, dataBytes = elements * encoding.matrixElementBytes();
        MemorySegment data = parameters.asSlice(at, dataBytes);
        return encoding == DType.Q8
                ? new Matrix(encoding, data, parameters.asSlice(at + dataBytes, elements / block * Float.BYTES), rows, cols, block)
                : new Matrix(encoding, data, null, rows, cols, 0);
    }

    /** Element [r, c] as fp32: the reference every kernel is tested against (slow: one element at a time). */
    public float get(long r, long c) {
        long i = r * cols + c;
        return switch (encoding) {
            case FP32 -> data.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
            case BF16 -> BFloat16.toFloat(data.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            case Q8 -> data.get(ValueLayout.JAVA_BYTE, i)
                    * scales.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, r * (cols / block) + c / block);
        };
    }
}
