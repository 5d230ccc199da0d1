package tinyllm.convert;

import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Coverage-guided fuzzing (Jazzer) of the converter's readers of untrusted bytes: config.json, the
 * safetensors header, and every check the conversion makes against them. The input is config.json's bytes,
 * a NUL byte, then a whole safetensors file (no NUL: all config.json, no weights); an input of odd length
 * converts to bf16, of even length to fp32. Property: a checkpoint the engine opens, of config.json's shape;
 * or a one-line {@link TinyLlmException}; never another exception, never a hang.
 *
 * <p>Both files are parsed from memory ({@link HuggingFaceModel#of}); only an input that passes every check
 * writes a file (one small checkpoint in a temporary folder). {@code mvn test} replays the committed corpus in
 * {@code src/test/resources/tinyllm/convert/HuggingFaceFuzzTestInputs/configAndSafetensors/}: tiny valid
 * models (L=1 NH=1 C=2 V=3 maxT=2) in F32, F16 and BF16, with the {@code transformer.} prefix, with the mask
 * buffers and a tied lm_head, and broken variants of them. Fuzzing for real is in the README
 * ({@code JAZZER_FUZZ=1}).
 */
class HuggingFaceFuzzTest {
    private static final PrintStream NO_LOG = new PrintStream(OutputStream.nullOutputStream());

    @TempDir
    static Path dir;

    @FuzzTest(maxDuration = "5m")
    @Timeout(value = 10, unit = TimeUnit.SECONDS)
    void configAndSafetensors(byte[] input) throws Exception {
        int nul = indexOf(input, (byte) 0);
        byte[] config = nul < 0 ? input : Arrays.copyOfRange(input, 0, nul);
        byte[] safetensors = nul < 0 ? new byte[0] : Arrays.copyOfRange(input, nul + 1, input.length);
        DType dtype = input.length % 2 == 0 ? DType.FP32 : DType.BF16;
        Path out = dir.resolve("out.bin");
        Files.deleteIfExists(out);
        GPT2Config converted;
        try (HuggingFaceModel model = HuggingFaceModel.of(dir.resolve("model.safetensors"), config, MemorySegment.ofArray(safetensors))) {
            converted = Converter.convert(model, out, dtype, NO_LOG);
        } catch (TinyLlmException refused) {
            assertFalse(refused.getMessage().contains("\n"), "one line: " + refused.getMessage());
            assertFalse(Files.exists(out), "nothing written when refused");
            assertFalse(Files.exists(dir.resolve("out.bin.partial")), "no partial file left");
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            assertEquals(converted, Checkpoint.open(out, arena).config());
        }
    }

    private static int indexOf(byte[] bytes, byte value) {
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == value) return i;
        }
        return -1;
    }
}
