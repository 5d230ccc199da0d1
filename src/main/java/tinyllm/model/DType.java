package tinyllm.model;

/** How the parameters are stored in a checkpoint; activations are always fp32. */
public enum DType {
    FP32(3, 4),
    BF16(5, 2);

    /** llm.c's header version number for this storage type. */
    public final int checkpointVersion;
    public final int bytes;

    DType(int checkpointVersion, int bytes) {
        this.checkpointVersion = checkpointVersion;
        this.bytes = bytes;
    }
}
