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

import tinyllm.Fixtures;
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
        ByteBuffer file = ByteBuffer.allocate(Checkpoint.HEADER_BYTES + (int) dtype.vectorBytes(values.length)).order(ByteOrder.LITTLE_ENDIAN);
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

    /** A folder written by an independent tool (numpy, see the fixtures' README) from llm.c's own micro.bin. */
    @Test
    void anIndependentlyWrittenFolderConvertsToMicroBinByteForByte() throws IOException {
        assertArrayEquals(Files.readAllBytes(Fixtures.path("micro.bin")), convert(Fixtures.path("hf-micro"), DType.FP32));
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

    /** llm.c checkpoint to another type: the same bytes as from the Hugging Face folder of the same values. */
    byte[] convertCheckpoint(Path source, DType dtype, String name) throws IOException {
        return Files.readAllBytes(Fixtures.converted(source, dir.resolve(name), dtype));
    }

    @Test
    void q8FromAFolderAndFromTheFp32CheckpointAreTheSameBytes() throws IOException {
        byte[] fromFolder = convert(huggingFaceFolder("F32"), DType.Q8);
        assertArrayEquals(fromFolder, convertCheckpoint(original, DType.Q8, "from-checkpoint-q8.bin"));
        assertEquals(DType.Q8.checkpointVersion, ByteBuffer.wrap(fromFolder).order(ByteOrder.LITTLE_ENDIAN).getInt(4));
        assertEquals(16, ByteBuffer.wrap(fromFolder).order(ByteOrder.LITTLE_ENDIAN).getInt(32), "C = 48: blocks of 16");
    }

    @Test
    void bf16AndQ8FromAnLlmcCheckpointMatchTheFolderConversions() throws IOException {
        byte[] bf16 = convertCheckpoint(original, DType.BF16, "bf16.bin");
        assertArrayEquals(llmcFile(DType.BF16, parameters), bf16);
        // bf16 to q8 quantizes the bf16 values: as a folder of bf16 tensors does.
        assertArrayEquals(convert(huggingFaceFolder("BF16"), DType.Q8), convertCheckpoint(dir.resolve("bf16.bin"), DType.Q8, "bf16-q8.bin"));
    }

    /** q8 back to fp32 writes each weight as its int8 times its block's scale: fp32 of exactly what q8 holds. */
    @Test
    void q8BackToFp32IsTheDequantizedModel() throws IOException {
        Path q8 = dir.resolve("q8.bin");
        Files.write(q8, convertCheckpoint(original, DType.Q8, "q8.bin"));
        float[] back = HuggingFaceFixture.llmcParameters(Files.write(dir.resolve("back.bin"), convertCheckpoint(q8, DType.FP32, "back.bin")));
        for (int i = 0; i < 16; i++) { // wte's first block
            float absmax = 0;
            for (int j = 0; j < 16; j++) absmax = Math.max(absmax, Math.abs(parameters[j]));
            float scale = absmax / 127;
            assertEquals(Math.rint(parameters[i] / scale) * scale, back[i], 1e-7f, "wte element " + i);
        }
        int lnf = back.length - 2 * MICRO.channels();
        assertEquals(parameters[lnf], back[lnf], "vectors stay fp32, exactly");
    }

    @Test
    void refusesToWriteOverTheCheckpointItConverts() {
        TinyLlmException e = assertThrows(TinyLlmException.class, () -> {
            try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                Converter.convert(Checkpoint.open(original, arena), original, DType.Q8, new PrintStream(log));
            }
        });
        assertMentions(e, "refusing to write", original.toString());
    }

    @Test
    void releasedShapesGetLlmcStyleNames() {
        Path weights = Path.of("weights");
        assertEquals(Optional.of(weights.resolve("gpt2-124M.bin")), Converter.defaultOutput(weights, GPT2Config.named("gpt2", DType.FP32)));
        assertEquals(Optional.of(weights.resolve("gpt2-1558M-bf16.bin")), Converter.defaultOutput(weights, GPT2Config.named("gpt2-xl", DType.BF16)));
        assertEquals(Optional.of(weights.resolve("gpt2-355M-q8.bin")), Converter.defaultOutput(weights, GPT2Config.named("gpt2-medium", DType.Q8)));
        assertEquals(Optional.empty(), Converter.defaultOutput(weights, MICRO));
    }

    // ---- refusals: one line each, naming what is wrong ------------------------------------------------

    TinyLlmException refused(Path source) {
        return refused(source, DType.FP32);
    }

    TinyLlmException refused(Path source, DType dtype) {
        TinyLlmException e = assertThrows(TinyLlmException.class, () -> convert(source, dtype));
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        Path out = dir.resolve("converted-" + dtype + ".bin");
        assertFalse(Files.exists(out), "nothing written");
        assertFalse(Files.exists(out.resolveSibling(out.getFileName() + ".partial")), "no partial file left");
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

    // ---- config.json is validated as a checkpoint header is, before anything is planned -------------------

    @Test
    void refusesAnAbsurdLayerCountBeforePlanningAnything() throws IOException {
        Path folder = folder("hf-huge", HuggingFaceFixture.parameters(MICRO, parameters, "F32"), json -> json.put("n_layer", Integer.MAX_VALUE));
        // Refused by open() itself: no plan of 2^31 layers is ever built.
        TinyLlmException e = assertThrows(TinyLlmException.class, () -> HuggingFaceModel.open(folder));
        assertEquals("invalid shape in " + folder.resolve("config.json") + ": n_layer (layers) = 2147483647 is outside 1..4096",
                e.getMessage());
    }

    @Test
    void refusesEveryDimensionBeyondTheHeaderBounds() throws IOException {
        List<Entry> entries = HuggingFaceFixture.parameters(MICRO, parameters, "F32");
        assertMentions(refused(folder("hf-c", entries, json -> json.put("n_embd", 1 << 17).put("n_head", 1))), "n_embd (channels) = 131072", "1..65536");
        assertMentions(refused(folder("hf-t", entries, json -> json.put("n_positions", 1 << 30))), "n_positions (context length) = 1073741824");
        assertMentions(refused(folder("hf-v", entries, json -> json.put("vocab_size", Integer.MAX_VALUE))), "vocab_size (vocabulary size) = 2147483647");
        assertMentions(refused(folder("hf-h", entries, json -> json.put("n_head", 96))), "n_head (heads) = 96", "1..48");
        assertMentions(refused(folder("hf-d", entries, json -> json.put("n_head", 5))), "n_embd = 48 channels is not divisible by n_head = 5 heads");
    }

    // ---- non-finite weights --------------------------------------------------------------------------------

    /** The Hugging Face folder of the original with one value of one tensor replaced. */
    Path folderWithValue(String name, String tensor, int index, float value, String dtype) throws IOException {
        List<Entry> entries = new ArrayList<>(HuggingFaceFixture.parameters(MICRO, parameters, dtype));
        entries.replaceAll(e -> {
            if (!e.name().equals(tensor)) return e;
            byte[] data = e.data().clone();
            ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
            if (dtype.equals("F32")) b.putFloat(index * 4, value);
            else b.putShort(index * 2, (short) (Float.floatToRawIntBits(value) >>> 16));
            return new Entry(e.name(), e.dtype(), e.shape(), data);
        });
        return folder(name, entries, json -> {});
    }

    @Test
    void refusesNonFiniteWeightsNamingTensorAndIndex() throws IOException {
        // qkvw is a Conv1D [in 48, out 144]: element 161 is [1, 17].
        assertMentions(refused(folderWithValue("hf-nan", "h.1.attn.c_attn.weight", 161, Float.NaN, "F32")),
                "tensor h.1.attn.c_attn.weight", "holds NaN at [1, 17] (element 161)", "non-finite");
        assertMentions(refused(folderWithValue("hf-inf", "ln_f.weight", 7, Float.POSITIVE_INFINITY, "F32")),
                "tensor ln_f.weight", "holds Infinity at [7] (element 7)");
        assertMentions(refused(folderWithValue("hf-bf16-inf", "wte.weight", 480, Float.NEGATIVE_INFINITY, "BF16")),
                "tensor wte.weight", "holds -Infinity at [10, 0] (element 480)");
    }

    @Test
    void refusesAValueThatRoundsToInfinityInBf16ButConvertsItToFp32() throws IOException {
        Path folder = folderWithValue("hf-huge-value", "wte.weight", 3, 3.4e38f, "F32");
        assertMentions(refused(folder, DType.BF16), "tensor wte.weight", "holds 3.4E38 at [0, 3]", "infinite in bf16");
        byte[] fp32 = convert(folder, DType.FP32);
        assertEquals(3.4e38f, ByteBuffer.wrap(fp32).order(ByteOrder.LITTLE_ENDIAN).getFloat(Checkpoint.HEADER_BYTES + 3 * 4));
    }

    // ---- the inputs are never destroyed ---------------------------------------------------------------------

    @Test
    void refusesToWriteOverAnyOfItsInputs() throws IOException {
        Path folder = huggingFaceFolder("F32");
        Path weights = folder.resolve("model.safetensors"), config = folder.resolve("config.json");
        byte[] weightsBefore = Files.readAllBytes(weights), configBefore = Files.readAllBytes(config);
        Path link = Files.createSymbolicLink(dir.resolve("link.safetensors"), weights);
        Path hardLink = Files.createLink(dir.resolve("hard.json"), config);
        for (Path out : List.of(weights, config, link, hardLink, dir.resolve("hf-F32/./model.safetensors"))) {
            try (HuggingFaceModel model = HuggingFaceModel.open(folder)) {
                TinyLlmException e = assertThrows(TinyLlmException.class,
                        () -> Converter.convert(model, out, DType.FP32, new PrintStream(log, true, StandardCharsets.UTF_8)));
                assertMentions(e, "refusing to write " + out, "an input of the conversion");
            }
        }
        assertArrayEquals(weightsBefore, Files.readAllBytes(weights));
        assertArrayEquals(configBefore, Files.readAllBytes(config));
    }

    /** The writer truncates OUT.partial first: a hard link there to an input would destroy the input just as well. */
    @Test
    void refusesAnOutputWhosePartialFileIsAnInput() throws IOException {
        Path folder = huggingFaceFolder("F32");
        Path weights = folder.resolve("model.safetensors");
        Path partial = Files.createLink(dir.resolve("x.bin.partial"), weights);
        try (HuggingFaceModel model = HuggingFaceModel.open(folder)) {
            TinyLlmException e = assertThrows(TinyLlmException.class, () -> Converter.convert(model,
                    dir.resolve("x.bin"), DType.FP32, new PrintStream(log, true, StandardCharsets.UTF_8)));
            assertMentions(e, "refusing to write " + partial + ": it is the same file as " + weights);
        }
        assertEquals(Files.size(weights), Files.size(partial), "the input is untouched");
    }

    @Test
    void refusesToWriteOverAShardOfAnIndex() throws IOException {
        Path folder = dir.resolve("hf-sharded");
        HuggingFaceFixture.writeConfig(folder, MICRO, json -> {});
        List<Entry> entries = HuggingFaceFixture.parameters(MICRO, parameters, "F32");
        ObjectNode index = Safetensors.JSON.createObjectNode();
        ObjectNode weightMap = index.putObject("weight_map");
        HuggingFaceFixture.writeSafetensors(folder.resolve("shard-1.safetensors"), entries);
        entries.forEach(e -> weightMap.put(e.name(), "shard-1.safetensors"));
        Files.write(folder.resolve("model.safetensors.index.json"), Safetensors.JSON.writeValueAsBytes(index));
        for (String input : List.of("shard-1.safetensors", "model.safetensors.index.json")) {
            try (HuggingFaceModel model = HuggingFaceModel.open(folder)) {
                TinyLlmException e = assertThrows(TinyLlmException.class, () -> Converter.convert(model,
                        folder.resolve(input), DType.FP32, new PrintStream(log, true, StandardCharsets.UTF_8)));
                assertMentions(e, "refusing to write " + folder.resolve(input));
            }
        }
    }

    // ---- config.json and the weights must agree on every tensor ----------------------------------------------

    @Test
    void refusesLayersThatConfigJsonDoesNotHave() throws IOException {
        List<Entry> entries = new ArrayList<>(HuggingFaceFixture.parameters(MICRO, parameters, "F32"));
        entries.addAll(HuggingFaceFixture.attentionBuffers(MICRO));
        Path folder = folder("hf-one-layer", entries, json -> json.put("n_layer", 1));
        assertMentions(refused(folder), "holds 14 tensors that config.json's GPT-2 (n_layer 1) does not use",
                "h.1.attn.bias, h.1.attn.c_attn.bias, h.1.attn.c_attn.weight, h.1.attn.c_proj.bias, h.1.attn.c_proj.weight, ...");
    }

    @Test
    void refusesATensorNoGpt2Has() throws IOException {
        List<Entry> entries = new ArrayList<>(HuggingFaceFixture.parameters(MICRO, parameters, "F32"));
        entries.add(HuggingFaceFixture.entry("h.0.attn.q_norm.weight", "F32", new float[48], 48));
        assertMentions(refused(folder("hf-extra", entries, json -> {})), "holds 1 tensor that", "does not use: h.0.attn.q_norm.weight;");
    }
}
