package tinyllm.model;

/** How the parameters are stored in a checkpoint; activations are always fp32. */
public enum DType {
    FP32(3, 4),
    BF16(5, 2);

    /** llm.c's header version number for this storage type. */
    public final int checkpointVersion;
    public final int bytes;

    /** The name users type ({@code --dtype fp32|bf16}). */
    public static DType parse(String name) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "fp32" -> FP32;
            case "bf16" -> BF16;
            default -> throw new tinyllm.TinyLlmException("unknown --dtype '" + name + "': use fp32 or bf16");
        };
    }

    DType(int checkpointVersion, int bytes) {
        this.checkpointVersion = checkpointVersion;
        this.bytes = bytes;
    }
}
