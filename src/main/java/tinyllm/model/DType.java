package tinyllm.model;

/**
 * How the parameters are stored in a checkpoint; activations are always fp32.
 *
 * <p>fp32 and bf16 store every tensor in that type (llm.c's versions 3 and 5). q8 stores the weight
 * matrices as int8 in blocks of {@link GPT2Config#block()} consecutive elements of a row, each block with
 * an fp32 scale (value = int8 × scale), and everything else (biases, layernorms) as fp32.
 */
public enum DType {
    FP32(3),
    BF16(5),
    Q8(8);

    /** The header version number of this storage type: llm.c's 3 and 5; 8 is ours (llm.c has no 8-bit format). */
    public final int checkpointVersion;

    /** The q8 block size {@code convert} and {@code synthetic} write when it divides C (every GPT-2): llama.cpp's q8_0 block. */
    public static final int Q8_BLOCK = 32;

    /**
     * The q8 block for rows of {@code channels}: {@link #Q8_BLOCK}, or for the small test shapes it does not divide
     * the largest power of two that does (48 channels: 16), down to 4.
     */
    public static int q8Block(int channels) {
        int block = Q8_BLOCK;
        while (block > 4 && channels % block != 0) block /= 2;
        return block;
    }

    /** The name users type ({@code --dtype fp32|bf16|q8}). */
    public static DType parse(String name) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "fp32" -> FP32;
            case "bf16" -> BF16;
            case "q8" -> Q8;
            default -> throw new tinyllm.TinyLlmException("unknown --dtype '" + name + "': use fp32, bf16 or q8");
        };
    }

    /** The name users type and reports print. */
    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** What a checkpoint's file name carries before {@code .bin}: nothing for fp32, else {@code -bf16}, {@code -q8}. */
    public String fileSuffix() {
        return this == FP32 ? "" : "-" + label();
    }

    /** The version number's type, or null if no storage type has it. */
    public static DType ofVersion(int version) {
        for (DType dtype : values()) {
            if (dtype.checkpointVersion == version) return dtype;
        }
        return null;
    }

    /** Bytes of one element of a weight matrix in this type: 4, 2, or 1 (q8's scales apart). */
    public int matrixElementBytes() {
        return switch (this) {
            case FP32 -> Float.BYTES;
            case BF16 -> Short.BYTES;
            case Q8 -> Byte.BYTES;
        };
    }

    /** Bytes of {@code elements} of a weight matrix (rows of a multiple of {@code block} elements for q8): elements, then q8's scales. */
    public long matrixBytes(long elements, int block) {
        long data = Math.multiplyExact(elements, (long) matrixElementBytes());
        return this == Q8 ? Math.addExact(data, Math.multiplyExact(elements / block, (long) Float.BYTES)) : data;
    }

    /** Bytes of {@code elements} of a bias or layernorm vector: fp32 except in bf16 checkpoints. */
    public long vectorBytes(long elements) {
        return this == BF16 ? Math.multiplyExact(elements, 2L) : Math.multiplyExact(elements, 4L);
    }

    DType(int checkpointVersion) {
        this.checkpointVersion = checkpointVersion;
    }
}
