package tinyllm.checkpoint;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;

import tinyllm.TinyLlmException;
import tinyllm.model.GPT2Config;
import tinyllm.model.Weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Coverage-guided fuzzing (Jazzer) of what {@link Checkpoint#open} checks before it maps a file: the header
 * and the file's length. The input is a whole checkpoint file. Property: a valid shape whose parameters are
 * exactly the rest of the file, cut into named views without error; or a one-line {@link TinyLlmException};
 * never another exception, never a hang (the timeout bounds each input, in both modes).
 *
 * <p>{@code mvn test} replays the committed corpus in
 * {@code src/test/resources/tinyllm/checkpoint/CheckpointFuzzTestInputs/headerAndLength/}: tiny valid fp32
 * and bf16 checkpoints (L=1 NH=1 C=2 V=3 maxT=2) and a q8 one (C=4, blocks of 4), the same with a byte too many
 * or too few, q8 headers with blocks that cannot be, and headers
 * with each dimension out of range. Fuzzing for real is in the README ({@code JAZZER_FUZZ=1}).
 */
class CheckpointFuzzTest {
    @FuzzTest(maxDuration = "5m")
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void headerAndLength(byte[] file) {
        Path path = Path.of("fuzzed.bin");
        GPT2Config config;
        try {
            config = Checkpoint.read(path, ByteBuffer.wrap(file), file.length);
        } catch (TinyLlmException refused) {
            assertFalse(refused.getMessage().contains("\n"), "one line: " + refused.getMessage());
            return;
        }
        long parameters = file.length - Checkpoint.HEADER_BYTES;
        assertEquals(parameters, config.layout().bytes());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mapped = arena.allocate(parameters, 64).copyFrom(MemorySegment.ofArray(file).asSlice(Checkpoint.HEADER_BYTES));
            Weights weights = Weights.of(config, mapped, arena);
            assertEquals(config.layers(), weights.layers().length);
        }
    }
}
