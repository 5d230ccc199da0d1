package tinyllm.convert;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.TinyLlmException;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.checkpoint.SyntheticCheckpoint;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static tinyllm.convert.HuggingFaceFixture.Entry;

/**
 * Hugging Face checkpoints written from a random llm.c checkpoint convert back to exactly its bytes,
 * and every malformed input is refused with a one-line message naming what is wrong.
 */
class ConverterTest {
    /** Small enough to convert in milliseconds; V = 500 is not a multiple of 128, so wte gets padding rows. */
    static final GPT2Config MICRO = new GPT2Config(64, 500, 512, 2, 4, 48, DType.FP32);

    @TempDir
    Path dir;

    Path original;
    float[] parameters;
    final ByteArrayOutputStream log = new ByteArrayOutputStream();

    @BeforeEach
    void writeOriginal() throws IOException {
        original = dir.resolve("micro.bin");
        SyntheticCheckpoint.write(original, MICRO, 42);
        parameters = HuggingFaceFixture.llmcParameters(original);
    }

    /** A model folder as transformers saves GPT2LMHeadModel (with the mask buffers of older versions). */
    Path huggingFaceFolder(String dtype) throws IOException {
        List<Entry> entries = new ArrayList<>(HuggingFaceFixture.parameters(MICRO, parameters, dtype));
        entries.addAll(HuggingFaceFixture.attentionBuffers(MICRO));
        return folder("hf-" + dtype, entries, json -> {});
    }

    Path folder(String name, List<Entry> entries, Consumer<ObjectNode> configEdit) throws IOException {
        Path folder = dir.resolve(name);
        HuggingFaceFixture.writeConfig(folder, MICRO, configEdit);
        HuggingFaceFixture.writeSafetensors(folder.resolve("model.safetensors"), entries);
        return folder;
    }

    byte[] convert(Path source, DType dtype) throws IOException {
        Path out = dir.resolve("converted-" + dtype + ".bin");
        try (HuggingFaceModel model = HuggingFaceModel.open(source)) {
            Converter.convert(model, out, dtype, new PrintStream(log, true, StandardCharsets.UTF_8));
        }
        assertFalse(Files.exists(out.resolveSibling(out.getFileName() + ".partial")), "the .partial file is renamed away");
        return Files.readAllBytes(out);
    }

    /** The llm.c file of {@code values} under the original's header, with the given version and storage. */
    byte[] llmcFile(DType dtype, float[] values) throws IOException {
        ByteBuffer header = ByteBuffer.wrap(Files.readAllBytes(original), 0, Checkpoint.HEADER_BYTES);
        ByteBuffer file = ByteBuffer.allocate(Checkpoint.HEADER_BYTES + values.length * dtype.bytes).order(ByteOrder.LITTLE_ENDIAN);
        file.put(header).putInt(4, dtype.checkpointVersion);
        for (float v : values) {
            if (dtype == DType.FP32) file.putFloat(v);
            else file.putShort(HuggingFaceFixture.nearestBf16(v));
        }
        return file.array();
    }

    String logText() {
        return log.toString(StandardCharsets.UTF_8);
    }

    // ---- conversions -----------------------------------------------------------------------------------

    @Test
    void fp32FolderConvertsToTheOriginalBytes() throws IOException {
        assertArrayEquals(Files.readAllBytes(original), convert(huggingFaceFolder("F32"), DType.FP32));
        assertTrue(logText().contains("100%  lnfb"), "one progress line per tensor:\n" + logText());
    }

    @Test
    void transformerPrefixAndTiedLmHeadAreAccepted() throws IOException {
        List<Entry> entries = new ArrayList<>();
        for (Entry e : HuggingFaceFixture.parameters(MICRO, parameters, "F32")) {
            entries.add(e.renamed("transformer." + e.name()));
        }
        entries.add(entries.getFirst().renamed("lm_head.weight"));
        Path folder = folder("hf-prefixed", entries, json -> {});
        assertArrayEquals(Files.readAllBytes(original), convert(folder, DType.FP32));
        assertFalse(logText().contains("warning"), logText());
    }

    @Test
    void untiedLmHeadIsIgnoredWithAWarning() throws IOException {
        List<Entry> entries = new ArrayList<>(HuggingFaceFixture.parameters(MICRO, parameters, "F32"));
        entries.add(HuggingFaceFixture.entry("lm_head.weight", "F32", new float[500 * 48], 500, 48));
        Path folder = folder("hf-untied", entries, json -> {});
        assertArrayEquals(Files.readAllBytes(original), convert(folder, DType.FP32));
        assertTrue(logText().contains("warning: lm_head.weight differs from wte.weight"), logText());
    }

    @Test
    void singleSafetensorsFileWithConfigBesideIt() throws IOException {
        Path file = huggingFaceFolder("F32").resolve("model.safetensors");
        assertArrayEquals(Files.readAllBytes(original), convert(file, DType.FP32));
    }

    @Test
    void shardsListedInAnIndexConvertLikeOneFile() throws IOException {
        Path folder = dir.resolve("hf-sharded");
        HuggingFaceFixture.writeConfig(folder, MICRO, json -> {});
        List<Entry> entries = HuggingFaceFixture.parameters(MICRO, parameters, "F32");
        List<List<Entry>> shards = List.of(entries.subList(0, 10), entries.subList(10, entries.size()));
        ObjectNode index = Safetensors.JSON.createObjectNode();
        ObjectNode weightMap = index.putObject("weight_map");
        for (int s = 0; s < shards.size(); s++) {
            String file = "model-0000" + (s + 1) + "-of-00002.safetensors";
            HuggingFaceFixture.writeSafetensors(folder.resolve(file), shards.get(s));
            shards.get(s).forEach(e -> weightMap.put(e.name(), file));
        }
        Files.write(folder.resolve("model.safetensors.index.json"), Safetensors.JSON.writeValueAsBytes(index));
        assertArrayEquals(Files.readAllBytes(original), convert(folder, DType.FP32));
    }

    @Test
    void f16SourceWidensExactly() throws IOException {
        float[] widened = new float[parameters.length];
        for (int i = 0; i < widened.length; i++) widened[i] = Float.float16ToFloat(Float.floatToFloat16(parameters[i]));
        assertArrayEquals(llmcFile(DType.FP32, widened), convert(huggingFaceFolder("F16"), DType.FP32));
    }

    @Test
    void bf16FromAnF32SourceRoundsToNearestEven() throws IOException {
        assertArrayEquals(llmcFile(DType.BF16, parameters), convert(huggingFaceFolder("F32"), DType.BF16));
    }

    @Test
    void bf16FromABf16SourceKeepsItsValues() throws IOException {
        assertArrayEquals(llmcFile(DType.BF16, parameters), convert(huggingFaceFolder("BF16"), DType.BF16));
    }

    @Test
    void releasedShapesGetLlmcStyleNames() {
        Path weights = Path.of("weights");
        assertEquals(Optional.of(weights.resolve("gpt2-124M.bin")), Converter.defaultOutput(weights, GPT2Config.named("gpt2", DType.FP32)));
        assertEquals(Optional.of(weights.resolve("gpt2-1558M-bf16.bin")), Converter.defaultOutput(weights, GPT2Config.named("gpt2-xl", DType.BF16)));
        assertEquals(Optional.empty(), Converter.defaultOutput(weights, MICRO));
    }

    // ---- refusals: one line each, naming what is wrong ------------------------------------------------

    TinyLlmException refused(Path source) {
        TinyLlmException e = assertThrows(TinyLlmException.class, () -> convert(source, DType.FP32));
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertFalse(Files.exists(dir.resolve("converted-FP32.bin")), "nothing written");
        return e;
    }

    void assertMentions(TinyLlmException e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), "'" + e.getMessage() + "' should mention '" + part + "'");
        }
    }

    @Test
    void refusesAFolderWithoutConfigJson() throws IOException {
        Path folder = huggingFaceFolder("F32");
        Files.delete(folder.resolve("config.json"));
        assertMentions(refused(folder), "no config.json in " + folder);
    }

    @Test
    void refusesOtherModelTypes() throws IOException {
        Path folder = folder("hf-neo", HuggingFaceFixture.parameters(MICRO, parameters, "F32"), json -> json.put("model_type", "gpt_neo"));
        assertMentions(refused(folder), "model_type 'gpt_neo'", "gpt2");
    }

    @Test
    void refusesAnotherLayerNormEpsilon() throws IOException {
        Path folder = folder("hf-eps", HuggingFaceFixture.parameters(MICRO, parameters, "F32"), json -> json.put("layer_norm_epsilon", 1e-6));
        assertMentions(refused(folder), "layer_norm_epsilon 1.0E-6", "1e-5");
    }

    @Test
    void refusesAnotherActivation() throws IOException {
        Path folder = folder("hf-relu", HuggingFaceFixture.parameters(MICRO, parameters, "F32"), json -> json.put("activation_function", "relu"));
        assertMentions(refused(folder), "activation_function 'relu'");
    }

    @Test
    void refusesMissingTensorsNamingThem() throws IOException {
        List<Entry> entries = new ArrayList<>(HuggingFaceFixture.parameters(MICRO, parameters, "F32"));
        entries.removeIf(e -> e.name().equals("h.1.mlp.c_fc.bias") || e.name().equals("ln_f.bias"));
        assertMentions(refused(folder("hf-missing", entries, json -> {})), "lacks 2 GPT-2 tensors", "h.1.mlp.c_fc.bias", "ln_f.bias");
    }

    @Test
    void refusesAConv1DWeightStoredUntransposed() throws IOException {
        List<Entry> entries = new ArrayList<>(HuggingFaceFixture.parameters(MICRO, parameters, "F32"));
        entries.replaceAll(e -> e.name().equals("h.0.attn.c_attn.weight")
                ? new Entry(e.name(), e.dtype(), new long[] {144, 48}, e.data()) : e);
        assertMentions(refused(folder("hf-shape", entries, json -> {})), "h.0.attn.c_attn.weight", "[144, 48]", "expected [48, 144]");
    }

    @Test
    void refusesWpeRowsThatDisagreeWithNPositions() throws IOException {
        Path folder = folder("hf-wpe", HuggingFaceFixture.parameters(MICRO, parameters, "F32"), json -> json.put("n_positions", 128));
        assertMentions(refused(folder), "wpe.weight", "[64, 48]", "expected [128, 48]", "n_positions 128");
    }

    @Test
    void refusesAnUnsupportedDtype() throws IOException {
        Path folder = huggingFaceFolder("F32");
        HuggingFaceFixture.editHeader(folder.resolve("model.safetensors"), header -> ((ObjectNode) header.get("wpe.weight")).put("dtype", "F64"));
        assertMentions(refused(folder), "wpe.weight", "dtype F64", "F32, F16 and BF16");
    }

    @Test
    void refusesOffsetsBeyondTheFile() throws IOException {
        Path folder = huggingFaceFolder("F32");
        HuggingFaceFixture.editHeader(folder.resolve("model.safetensors"),
                header -> ((ObjectNode) header.get("ln_f.bias")).putArray("data_offsets").add(1L << 40).add((1L << 40) + 192));
        assertMentions(refused(folder), "not a valid safetensors file", "ln_f.bias", "data section");
    }

    @Test
    void refusesOverlappingTensors() throws IOException {
        Path folder = huggingFaceFolder("F32");
        HuggingFaceFixture.editHeader(folder.resolve("model.safetensors"),
                header -> ((ObjectNode) header.get("h.0.ln_1.bias")).set("data_offsets", header.get("h.0.ln_1.weight").get("data_offsets")));
        assertMentions(refused(folder), "not a valid safetensors file", "tensors overlap");
    }

    @Test
    void refusesNegativeOffsets() throws IOException {
        Path folder = huggingFaceFolder("F32");
        HuggingFaceFixture.editHeader(folder.resolve("model.safetensors"),
                header -> ((ObjectNode) header.get("ln_f.bias")).putArray("data_offsets").add(-192).add(0));
        assertMentions(refused(folder), "not a valid safetensors file", "'ln_f.bias' is malformed");
    }

    @Test
    void refusesAnAbsurdHeaderLength() throws IOException {
        Path file = huggingFaceFolder("F32").resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        Files.write(file, bytes);
        assertMentions(refused(file.getParent()), "not a valid safetensors file", "header length field says 1099511627776 bytes");
    }
}
