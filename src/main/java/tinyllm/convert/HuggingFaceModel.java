package tinyllm.convert;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;

import tinyllm.TinyLlmException;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

/**
 * A Hugging Face GPT-2 checkpoint, mapped read-only: config.json next to model.safetensors, or next to
 * shards listed in model.safetensors.index.json. Tensors are named without the optional
 * {@code transformer.} prefix, which GPT2LMHeadModel writes and GPT2Model does not.
 */
public final class HuggingFaceModel implements AutoCloseable {
    static final String PREFIX = "transformer.";
    static final String CONFIG = "config.json", SINGLE_FILE = "model.safetensors", INDEX = "model.safetensors.index.json";

    private final Path source;
    private final GPT2Config shape;
    private final Map<String, Safetensors.Tensor> tensors;
    private final Arena arena;

    private HuggingFaceModel(Path source, GPT2Config shape, Map<String, Safetensors.Tensor> tensors, Arena arena) {
        this.source = source;
        this.shape = shape;
        this.tensors = tensors;
        this.arena = arena;
    }

    /**
     * Opens a model folder, or a single .safetensors file with config.json beside it, checking
     * config.json and every safetensors header.
     */
    public static HuggingFaceModel open(Path source) {
        Path folder = folderOf(source);
        GPT2Config shape = readConfig(folder.resolve(CONFIG));
        List<Path> files = Files.isDirectory(source) ? weightFiles(folder) : List.of(source);
        Arena arena = Arena.ofConfined();
        try {
            Map<String, Safetensors.Tensor> tensors = new HashMap<>();
            for (Path file : files) {
                for (Safetensors.Tensor tensor : Safetensors.open(file, arena).values()) {
                    String name = tensor.name().startsWith(PREFIX) ? tensor.name().substring(PREFIX.length()) : tensor.name();
                    if (tensors.putIfAbsent(name, tensor) != null) {
                        throw new TinyLlmException("tensor " + name + " appears twice in " + source
                                + " (with and without the '" + PREFIX + "' prefix, or in two shards)");
                    }
                }
            }
            return new HuggingFaceModel(source, shape, tensors, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path source() {
        return source;
    }

    /** The model's shape from config.json, to be stored as {@code dtype}. */
    public GPT2Config config(DType dtype) {
        return new GPT2Config(shape.maxSeqLen(), shape.vocabSize(), shape.vocabPadded(), shape.layers(),
                shape.heads(), shape.channels(), dtype);
    }

    /** The tensor of that name (without prefix), or null when the checkpoint has none. */
    Safetensors.Tensor tensor(String name) {
        return tensors.get(name);
    }

    /** Unmaps the files: tensors read before closing must not be used after. */
    @Override
    public void close() {
        arena.close();
    }

    private static Path folderOf(Path source) {
        if (Files.isDirectory(source)) {
            return source;
        }
        if (!Files.isRegularFile(source)) {
            throw new TinyLlmException(source + " not found: give a Hugging Face model folder (config.json and "
                    + SINGLE_FILE + ") or a .safetensors file with config.json beside it");
        }
        if (!source.getFileName().toString().endsWith(".safetensors")) {
            throw new TinyLlmException(source + " is not a .safetensors file: give a Hugging Face model folder"
                    + " or a .safetensors file with config.json beside it");
        }
        return source.toAbsolutePath().getParent();
    }

    /** The single file when there is one, as transformers prefers it; otherwise the shards of the index. */
    private static List<Path> weightFiles(Path folder) {
        if (Files.isRegularFile(folder.resolve(SINGLE_FILE))) {
            return List.of(folder.resolve(SINGLE_FILE));
        }
        Path index = folder.resolve(INDEX);
        if (!Files.isRegularFile(index)) {
            throw new TinyLlmException("no " + SINGLE_FILE + " or " + INDEX + " in " + folder
                    + ": tinyllm converts safetensors checkpoints");
        }
        JsonNode weightMap = readJson(index).path("weight_map");
        if (!weightMap.isObject() || weightMap.isEmpty()) {
            throw new TinyLlmException(index + " has no weight_map listing the shards");
        }
        Set<Path> shards = new LinkedHashSet<>();
        for (JsonNode file : weightMap) {
            shards.add(folder.resolve(file.asText()));
        }
        for (Path shard : shards) {
            if (!Files.isRegularFile(shard)) {
                throw new TinyLlmException("shard " + shard.getFileName() + " listed in " + index + " is missing");
            }
        }
        return List.copyOf(shards);
    }

    /** The parts of config.json llm.c's header needs, after refusing models whose arithmetic differs from GPT-2's. */
    private static GPT2Config readConfig(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new TinyLlmException("no " + CONFIG + " in " + file.getParent()
                    + ": a Hugging Face model folder holds config.json next to the safetensors file(s)");
        }
        JsonNode json = readJson(file);
        String type = json.path("model_type").asText("");
        if (!type.equals("gpt2")) {
            throw new TinyLlmException(file + " has model_type '" + type + "': tinyllm converts GPT-2 (model_type gpt2) only");
        }
        // The engine's layernorm and GELU are GPT-2's; a model trained with others would run, and be wrong.
        JsonNode epsilon = json.get("layer_norm_epsilon");
        if (epsilon != null && epsilon.asDouble() != 1e-5) {
            throw new TinyLlmException(file + " has layer_norm_epsilon " + epsilon.asText()
                    + ": tinyllm's layernorm uses GPT-2's 1e-5");
        }
        String activation = json.path("activation_function").asText("gelu_new");
        if (!activation.equals("gelu_new") && !activation.equals("gelu_pytorch_tanh")) {
            throw new TinyLlmException(file + " has activation_function '" + activation
                    + "': tinyllm computes GPT-2's tanh GELU (gelu_new)");
        }
        int maxT = positive(file, json, "n_positions"), vocab = positive(file, json, "vocab_size");
        int layers = positive(file, json, "n_layer"), heads = positive(file, json, "n_head"), channels = positive(file, json, "n_embd");
        if (channels % heads != 0) {
            throw new TinyLlmException(file + " has n_embd " + channels + " not divisible by n_head " + heads);
        }
        return new GPT2Config(maxT, vocab, GPT2Config.padVocab(vocab), layers, heads, channels, DType.FP32);
    }

    private static int positive(Path file, JsonNode json, String key) {
        JsonNode value = json.get(key);
        if (value == null || !value.canConvertToInt() || !value.canConvertToExactIntegral() || value.asInt() <= 0) {
            throw new TinyLlmException(file + " needs a positive integer " + key + ", has " + value);
        }
        return value.asInt();
    }

    private static JsonNode readJson(Path file) {
        try {
            return Safetensors.JSON.readTree(Files.readAllBytes(file));
        } catch (JacksonException e) {
            throw new TinyLlmException(file + " is not valid JSON: " + e.getOriginalMessage());
        } catch (NoSuchFileException e) {
            throw new TinyLlmException(file + " not found");
        } catch (IOException e) {
            throw TinyLlmException.io("cannot read", file, e);
        }
    }
}
