package tinyllm.checkpoint;

import java.nio.file.Path;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

import tinyllm.model.GPT2Config;
import tinyllm.model.ParameterLayout;

import static tinyllm.model.ParameterLayout.*;

/**
 * Writes a checkpoint of random weights with a real GPT-2 shape, so the engine, its tests and the
 * bench can run without downloading anything. Speed does not depend on the values.
 *
 * <p>The values follow the llm.c fixtures' generator: matrices normal(0, 0.02), layernorm gains
 * 1 + normal(0, 0.05), biases normal(0, 0.01), the padding rows of wte zero. The same seed gives the
 * same file; a bf16 file holds the fp32 file's values rounded to nearest even.
 */
public final class SyntheticCheckpoint {
    private SyntheticCheckpoint() {}

    /** Writes the checkpoint of {@code config}'s shape drawn from {@code seed} to {@code out}, through {@link CheckpointWriter}. */
    public static void write(Path out, GPT2Config config, long seed) {
        RandomGenerator random = RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
        try (CheckpointWriter writer = CheckpointWriter.create(out, config)) {
            ParameterLayout layout = config.layout();
            for (int tensor = 0; tensor < NAMES.length; tensor++) {
                long size = layout.sizes()[tensor];
                // Only the first V rows of wte are real tokens; llm.c leaves the padding rows zero.
                long real = tensor == WTE ? (long) config.vocabSize() * config.channels() : size;
                for (long i = 0; i < real; i++) {
                    // bf16 files get the same draws as fp32, rounded as llm.c's exporter rounds
                    writer.put(sample(tensor, random));
                }
                writer.zeros(size - real);
            }
            writer.commit();
        }
    }

    private static float sample(int tensor, RandomGenerator random) {
        return switch (tensor) {
            case LN1W, LN2W, LNFW -> 1f + 0.05f * (float) random.nextGaussian();
            case LN1B, QKVB, ATTPROJB, LN2B, FCB, FCPROJB, LNFB -> 0.01f * (float) random.nextGaussian();
            default -> 0.02f * (float) random.nextGaussian();
        };
    }
}
