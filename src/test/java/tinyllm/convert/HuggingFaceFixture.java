package tinyllm.convert;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import tinyllm.checkpoint.Checkpoint;
import tinyllm.model.GPT2Config;

import static tinyllm.model.ParameterLayout.*;

/**
 * Writes Hugging Face GPT-2 checkpoints from an llm.c checkpoint's values, laid out as transformers
 * saves GPT2LMHeadModel: Conv1D weights [in, out], wte without llm.c's padding rows, the attention
 * mask buffers beside the parameters. Converting them back must give the llm.c file again.
 */
public final class HuggingFaceFixture {

    /** One safetensors entry: its name, dtype string, shape and raw little-endian bytes. */
    record Entry(String name, String dtype, long[] shape, byte[] data) {
        Entry renamed(String newName) {
            return new Entry(newName, dtype, shape, data);
        }
    }

    private HuggingFaceFixture() {}

    /** A Hugging Face folder (config.json, model.safetensors in F32) holding the model of an llm.c file. */
    public static void writeFolder(Path folder, Path llmcFile) throws IOException {
        GPT2Config c;
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            c = Checkpoint.open(llmcFile, arena).config();
        }
        List<Entry> entries = new ArrayList<>(parameters(c, llmcParameters(llmcFile), "F32"));
        entries.addAll(attentionBuffers(c));
        Files.createDirectories(folder);
        writeSafetensors(folder.resolve("model.safetensors"), entries);
        writeConfig(folder, c, config -> {});
    }

    /** The parameters of an llm.c file, after its header, in file order. */
    static float[] llmcParameters(Path file) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] values = new float[(bytes.capacity() - Checkpoint.HEADER_BYTES) / Float.BYTES];
        bytes.position(Checkpoint.HEADER_BYTES).asFloatBuffer().get(values);
        return values;
    }

    /** The 2 + 12L + 2 GPT-2 tensors in transformers' order, stored as {@code dtype} (F32, F16 or BF16). */
    static List<Entry> parameters(GPT2Config c, float[] p, String dtype) {
        long[] offsets = c.layout().offsets();
        int C = c.channels(), L = c.layers();
        List<Entry> entries = new ArrayList<>();
        entries.add(entry("wte.weight", dtype, slice(p, offsets[WTE], (long) c.vocabSize() * C), c.vocabSize(), C));
        entries.add(entry("wpe.weight", dtype, slice(p, offsets[WPE], (long) c.maxSeqLen() * C), c.maxSeqLen(), C));
        for (int l = 0; l < L; l++) {
            String h = "h." + l + ".";
            entries.add(entry(h + "ln_1.weight", dtype, layer(p, c, LN1W, l), C));
            entries.add(entry(h + "ln_1.bias", dtype, layer(p, c, LN1B, l), C));
            entries.add(entry(h + "attn.c_attn.weight", dtype, toInOut(layer(p, c, QKVW, l), 3 * C, C), C, 3 * C));
            entries.add(entry(h + "attn.c_attn.bias", dtype, layer(p, c, QKVB, l), 3 * C));
            entries.add(entry(h + "attn.c_proj.weight", dtype, toInOut(layer(p, c, ATTPROJW, l), C, C), C, C));
            entries.add(entry(h + "attn.c_proj.bias", dtype, layer(p, c, ATTPROJB, l), C));
            entries.add(entry(h + "ln_2.weight", dtype, layer(p, c, LN2W, l), C));
            entries.add(entry(h + "ln_2.bias", dtype, layer(p, c, LN2B, l), C));
            entries.add(entry(h + "mlp.c_fc.weight", dtype, toInOut(layer(p, c, FCW, l), 4 * C, C), C, 4 * C));
            entries.add(entry(h + "mlp.c_fc.bias", dtype, layer(p, c, FCB, l), 4 * C));
            entries.add(entry(h + "mlp.c_proj.weight", dtype, toInOut(layer(p, c, FCPROJW, l), C, 4 * C), 4 * C, C));
            entries.add(entry(h + "mlp.c_proj.bias", dtype, layer(p, c, FCPROJB, l), C));
        }
        entries.add(entry("ln_f.weight", dtype, slice(p, offsets[LNFW], C), C));
        entries.add(entry("ln_f.bias", dtype, slice(p, offsets[LNFB], C), C));
        return entries;
    }

    /** Older transformers versions saved the causal mask (bool) and the masked-score constant with the weights. */
    static List<Entry> attentionBuffers(GPT2Config c) {
        int T = c.maxSeqLen();
        byte[] mask = new byte[T * T];
        for (int row = 0; row < T; row++) Arrays.fill(mask, row * T, row * T + row + 1, (byte) 1);
        byte[] maskedBias = ByteBuffer.allocate(Float.BYTES).order(ByteOrder.LITTLE_ENDIAN).putFloat(-1e4f).array();
        List<Entry> entries = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            entries.add(new Entry("h." + l + ".attn.bias", "BOOL", new long[] {1, 1, T, T}, mask));
            entries.add(new Entry("h." + l + ".attn.masked_bias", "F32", new long[] {}, maskedBias));
        }
        return entries;
    }

    static Entry entry(String name, String dtype, float[] values, long... shape) {
        ByteBuffer bytes = ByteBuffer.allocate(values.length * (dtype.equals("F32") ? 4 : 2)).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (dtype) {
                case "F32" -> bytes.putFloat(v);
                case "F16" -> bytes.putShort(Float.floatToFloat16(v));
                case "BF16" -> bytes.putShort(nearestBf16(v));
                default -> throw new IllegalArgumentException(dtype);
            }
        }
        return new Entry(name, dtype, shape, bytes.array());
    }

    /**
     * The bf16 nearest to a finite {@code v} (below bf16's largest value), ties to the even one, found by
     * comparing the two candidates' distances in double: a check on {@link tinyllm.model.BFloat16#round} that shares
     * none of its bit arithmetic.
     */
    public static short nearestBf16(float v) {
        int truncated = Float.floatToRawIntBits(v) & 0xFFFF0000, awayFromZero = truncated + 0x10000;
        double below = Math.abs(v - (double) Float.intBitsToFloat(truncated));
        double above = Math.abs(Float.intBitsToFloat(awayFromZero) - (double) v);
        boolean truncatedIsEven = ((truncated >>> 16) & 1) == 0;
        int nearest = below < above || (below == above && truncatedIsEven) ? truncated : awayFromZero;
        return (short) (nearest >>> 16);
    }

    private static float[] layer(float[] p, GPT2Config c, int tensor, int l) {
        long perLayer = c.layout().sizes()[tensor] / c.layers();
        return slice(p, c.layout().offsets()[tensor] + l * perLayer, perLayer);
    }

    private static float[] slice(float[] p, long from, long count) {
        return Arrays.copyOfRange(p, (int) from, (int) (from + count));
    }

    /** llm.c's [out, in] weight as Conv1D stores it, [in, out]. */
    private static float[] toInOut(float[] outIn, int out, int in) {
        float[] inOut = new float[outIn.length];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) inOut[i * out + o] = outIn[o * in + i];
        }
        return inOut;
    }

    /** config.json as transformers writes it for GPT-2, then {@code edit}ed. */
    static void writeConfig(Path folder, GPT2Config c, Consumer<ObjectNode> edit) throws IOException {
        ObjectNode json = Safetensors.JSON.createObjectNode()
                .put("model_type", "gpt2").put("activation_function", "gelu_new").put("layer_norm_epsilon", 1e-5)
                .put("n_ctx", c.maxSeqLen()).put("n_positions", c.maxSeqLen()).put("vocab_size", c.vocabSize())
                .put("n_layer", c.layers()).put("n_head", c.heads()).put("n_embd", c.channels());
        json.putArray("architectures").add("GPT2LMHeadModel");
        edit.accept(json);
        Files.createDirectories(folder);
        Files.write(folder.resolve("config.json"), Safetensors.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(json));
    }

    /** A safetensors file holding {@code entries} back to back, in order. */
    static void writeSafetensors(Path file, List<Entry> entries) throws IOException {
        ObjectNode header = Safetensors.JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Entry e : entries) {
            ObjectNode node = header.putObject(e.name()).put("dtype", e.dtype());
            ArrayNode shape = node.putArray("shape");
            for (long d : e.shape()) shape.add(d);
            node.putArray("data_offsets").add(offset).add(offset + e.data().length);
            offset += e.data().length;
        }
        ByteBuffer data = ByteBuffer.allocate((int) offset);
        for (Entry e : entries) data.put(e.data());
        writeRaw(file, header, data.array());
    }

    /** Rewrites the header of a safetensors file, keeping its data section. */
    static void editHeader(Path file, Consumer<ObjectNode> edit) throws IOException {
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int headerBytes = (int) bytes.getLong(0);
        ObjectNode header = (ObjectNode) Safetensors.JSON.readTree(Arrays.copyOfRange(bytes.array(), 8, 8 + headerBytes));
        edit.accept(header);
        writeRaw(file, header, Arrays.copyOfRange(bytes.array(), 8 + headerBytes, bytes.capacity()));
    }

    private static void writeRaw(Path file, ObjectNode header, byte[] data) throws IOException {
        // Padded with spaces to 8 bytes, as the safetensors library does, so the data stays aligned.
        String json = Safetensors.JSON.writeValueAsString(header);
        byte[] headerBytes = (json + " ".repeat((8 - json.length() % 8) % 8)).getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + headerBytes.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(headerBytes.length).put(headerBytes).put(data);
        Files.write(file, out.array());
    }
}
