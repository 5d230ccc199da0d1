package tinyllm.model;

/**
 * Element counts and offsets of llm.c's 16 parameter tensors, in file order:
 * wte (Vp,C), wpe (maxT,C), ln1w (L,C), ln1b (L,C), qkvw (L,3C,C), qkvb (L,3C), attprojw (L,C,C),
 * attprojb (L,C), ln2w (L,C), ln2b (L,C), fcw (L,4C,C), fcb (L,4C), fcprojw (L,C,4C), fcprojb (L,C),
 * lnfw (C), lnfb (C); and where each lies in the file, in bytes, for the shape's storage type. In a q8 file
 * each layer's matrix is its int8 elements followed by its scales, one fp32 per block of a row, so a
 * matrix and its scales stream together.
 *
 * <p>Everything is computed in long with overflow checks: a corrupt header claiming L = 2^30 must
 * fail here rather than wrap around into a size that happens to match the file.
 *
 * @param sizes       elements of each tensor
 * @param offsets     element offset of each tensor (the order values are written in)
 * @param total       elements of all tensors
 * @param byteSizes   bytes of each tensor as stored
 * @param byteOffsets byte offset of each tensor after the header
 * @param bytes       bytes of all parameters
 */
public record ParameterLayout(long[] sizes, long[] offsets, long total, long[] byteSizes, long[] byteOffsets, long bytes) {

    public static final String[] NAMES = {
        "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
        "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"
    };

    public static final int WTE = 0, WPE = 1, LN1W = 2, LN1B = 3, QKVW = 4, QKVB = 5, ATTPROJW = 6, ATTPROJB = 7,
            LN2W = 8, LN2B = 9, FCW = 10, FCB = 11, FCPROJW = 12, FCPROJB = 13, LNFW = 14, LNFB = 15;

    /** The tensors stored in the matrix encoding: the two embeddings and the four matrices of each layer. */
    public static boolean isMatrix(int tensor) {
        return tensor == WTE || tensor == WPE || tensor == QKVW || tensor == ATTPROJW || tensor == FCW || tensor == FCPROJW;
    }

    /**
     * How many matrices a tensor holds, each stored whole (in q8: its elements, then its scales): one for wte and
     * wpe, one per layer for the layers' matrices; 0 for the vectors.
     */
    public static int matrices(int tensor, int layers) {
        if (!isMatrix(tensor)) return 0;
        return tensor == WTE || tensor == WPE ? 1 : layers;
    }

    /** @throws ArithmeticException if any size overflows a long */
    static ParameterLayout of(GPT2Config c) {
        long C = c.channels(), L = c.layers();
        long[] sizes = {
            Math.multiplyExact((long) c.vocabPadded(), C),
            Math.multiplyExact((long) c.maxSeqLen(), C),
            Math.multiplyExact(L, C), Math.multiplyExact(L, C),
            Math.multiplyExact(L, Math.multiplyExact(3 * C, C)), Math.multiplyExact(L, 3 * C),
            Math.multiplyExact(L, Math.multiplyExact(C, C)), Math.multiplyExact(L, C),
            Math.multiplyExact(L, C), Math.multiplyExact(L, C),
            Math.multiplyExact(L, Math.multiplyExact(4 * C, C)), Math.multiplyExact(L, 4 * C),
            Math.multiplyExact(L, Math.multiplyExact(C, 4 * C)), Math.multiplyExact(L, C),
            C, C
        };
        long[] offsets = new long[sizes.length], byteSizes = new long[sizes.length], byteOffsets = new long[sizes.length];
        long total = 0, bytes = 0;
        for (int i = 0; i < sizes.length; i++) {
            offsets[i] = total;
            total = Math.addExact(total, sizes[i]);
            byteSizes[i] = isMatrix(i) ? c.dtype().matrixBytes(sizes[i], c.block()) : c.dtype().vectorBytes(sizes[i]);
            byteOffsets[i] = bytes;
            bytes = Math.addExact(bytes, byteSizes[i]);
        }
        return new ParameterLayout(sizes, offsets, total, byteSizes, byteOffsets, bytes);
    }
}
