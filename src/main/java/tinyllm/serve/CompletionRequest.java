package tinyllm.serve;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import tinyllm.model.GPT2Config;
import tinyllm.tokenizer.GPT2Tokenizer;

/**
 * A {@code POST /v1/completions} body, read and checked: every parameter in range, the prompt as token ids that fit
 * the context with max_tokens. Unknown fields are ignored, as OpenAI-compatible servers do; OpenAI parameters this
 * server does not implement are refused rather than silently dropped.
 *
 * @param temperature 0 is greedy
 * @param topK        0 is off
 * @param seed        null: a random seed per request
 * @param logprobs    -1 when not asked; else how many alternatives (0..5) to return with each token
 * @param ignoreEos   vLLM's extension: end-of-text is a token like any other (load tests want exactly max_tokens)
 */
record CompletionRequest(int[] prompt, int maxTokens, float temperature, float topP, int topK, Long seed,
                         List<String> stops, float frequencyPenalty, float presencePenalty, int logprobs,
                         boolean stream, boolean includeUsage, boolean ignoreEos) {
    static final int MAX_LOGPROBS = 5, MAX_STOPS = 4, DEFAULT_MAX_TOKENS = 16;
    /** The smallest positive temperature whose reciprocal is a finite float. */
    static final float MIN_TEMPERATURE = Math.nextUp(1 / Float.MAX_VALUE); // 1 / Float.MAX_VALUE itself rounds below it

    /** Trailing tokens refused: '{"prompt": "a"} {"prompt": "b"}' is not one JSON body, so it is not read as the first. */
    private static final ObjectMapper JSON = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();

    /** @throws ApiException with the parameter at fault */
    static CompletionRequest parse(byte[] body, String modelName, GPT2Config config, GPT2Tokenizer tokenizer) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (JacksonException e) {
            throw ApiException.invalid(null, "the body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiException.invalid(null, "cannot read the body: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw ApiException.invalid(null, "the body must be a JSON object");
        }
        String model = string(root, "model");
        if (model != null && !model.equals(modelName)) {
            throw new ApiException(404, "invalid_request_error", "model", "model_not_found",
                    "the model '" + model + "' does not exist: this server serves '" + modelName + "'");
        }
        int n = integer(root, "n", 1);
        if (n != 1) {
            throw ApiException.unsupported("n", "n = " + n + " is not supported: one choice per request (send several requests)");
        }
        if (!isNull(root, "best_of") && integer(root, "best_of", 1) != 1) {
            throw ApiException.unsupported("best_of", "best_of is not supported: one choice per request");
        }
        if (bool(root, "echo", false)) {
            throw ApiException.unsupported("echo", "echo is not supported");
        }
        if (!isNull(root, "suffix")) {
            throw ApiException.unsupported("suffix", "suffix (insertion) is not supported: GPT-2 only continues text");
        }
        JsonNode logitBias = root.get("logit_bias");
        if (logitBias != null && !logitBias.isNull() && !logitBias.isEmpty()) {
            throw ApiException.unsupported("logit_bias", "logit_bias is not supported");
        }

        int[] prompt = prompt(root.get("prompt"), config, tokenizer);
        int maxTokens = integer(root, "max_tokens", DEFAULT_MAX_TOKENS);
        if (maxTokens < 1) {
            throw ApiException.invalid("max_tokens", "max_tokens must be at least 1, got " + maxTokens);
        }
        if (!config.fits(prompt.length, maxTokens)) {
            long room = config.room(prompt.length);
            throw new ApiException(400, "invalid_request_error", room >= 1 ? "max_tokens" : "prompt", "context_length_exceeded",
                    "this model's context is " + config.maxSeqLen() + " tokens: a prompt of " + prompt.length
                            + " tokens with max_tokens " + maxTokens + " does not fit"
                            + (room >= 1 ? " (at most " + room + " new tokens after this prompt)" : " (shorten the prompt)"));
        }
        float temperature = number(root, "temperature", 1f);
        boolean underflows = temperature == 0 && root.path("temperature").doubleValue() > 0; // 1e-50: not greedy, too small
        if (temperature < 0 || underflows || (temperature > 0 && !Float.isFinite(1 / temperature))) {
            // The sampler divides by it: a positive temperature whose reciprocal overflows a float cannot be used.
            throw ApiException.invalid("temperature", "temperature must be 0 (greedy) or a positive number from "
                    + MIN_TEMPERATURE + " up, got " + temperature);
        }
        float topP = number(root, "top_p", 1f);
        if (!(topP > 0 && topP <= 1)) {
            throw ApiException.invalid("top_p", "top_p must be above 0 and at most 1, got " + topP);
        }
        int topK = integer(root, "top_k", 0);
        if (topK == -1) {
            topK = 0;   // vLLM's spelling of "off"
        }
        if (topK < 0 || topK > config.vocabSize()) {
            throw ApiException.invalid("top_k", "top_k must be 0 or -1 (off) or between 1 and " + config.vocabSize() + ", got " + topK);
        }
        Long seed = isNull(root, "seed") ? null : longInteger(root, "seed");
        float frequencyPenalty = penalty(root, "frequency_penalty");
        float presencePenalty = penalty(root, "presence_penalty");
        int logprobs = integer(root, "logprobs", -1); // -1 when absent or null: not asked
        if (!isNull(root, "logprobs") && (logprobs < 0 || logprobs > MAX_LOGPROBS)) {
            throw ApiException.invalid("logprobs", "logprobs must be between 0 and " + MAX_LOGPROBS + ", got " + logprobs);
        }
        boolean stream = bool(root, "stream", false);
        JsonNode options = root.get("stream_options");
        boolean includeUsage = false;
        if (options != null && !options.isNull()) {
            if (!options.isObject()) {
                throw ApiException.invalid("stream_options", "stream_options must be an object");
            }
            includeUsage = bool(options, "include_usage", false);
        }
        if (!isNull(root, "user")) {
            string(root, "user");   // checked for its type, otherwise unused
        }
        return new CompletionRequest(prompt, maxTokens, temperature, topP, topK, seed, stops(root.get("stop")),
                frequencyPenalty, presencePenalty, logprobs, stream, includeUsage, bool(root, "ignore_eos", false));
    }

    /** A string, an array of token ids, or an array holding one of these (OpenAI's batch of one). */
    private static int[] prompt(JsonNode node, GPT2Config config, GPT2Tokenizer tokenizer) {
        if (node == null || node.isNull()) {
            throw ApiException.invalid("prompt", "prompt is required: a string or an array of token ids");
        }
        if (node.isArray() && node.size() == 1 && (node.get(0).isTextual() || node.get(0).isArray())) {
            node = node.get(0);
        } else if (node.isArray() && !node.isEmpty() && (node.get(0).isTextual() || node.get(0).isArray())) {
            throw ApiException.unsupported("prompt", "several prompts in one request are not supported: send one request per prompt");
        }
        int[] tokens;
        if (node.isTextual()) {
            tokens = tokenizer.encode(wellFormed("prompt", node.asText()));
        } else if (node.isArray()) {
            tokens = new int[node.size()];
            for (int i = 0; i < tokens.length; i++) {
                JsonNode id = node.get(i);
                if (!id.isIntegralNumber() || !id.canConvertToInt()) {
                    throw ApiException.invalid("prompt", "prompt[" + i + "] is not a token id: " + id);
                }
                tokens[i] = id.intValue();
            }
        } else {
            throw ApiException.invalid("prompt", "prompt must be a string or an array of token ids, got " + node.getNodeType().name().toLowerCase());
        }
        // Text too: GPT-2's tokenizer can give ids beyond a checkpoint with a smaller vocabulary (the test fixtures'),
        // which the engine would refuse only once the request runs, after its 200.
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] >= config.vocabSize()) {
                throw ApiException.invalid("prompt", "token id " + tokens[i] + (node.isTextual() ? " of the prompt's text" : " at prompt[" + i + "]")
                        + " is out of range: the model's vocabulary is 0.." + (config.vocabSize() - 1));
            }
        }
        if (tokens.length == 0) {
            throw ApiException.invalid("prompt", "the prompt is empty: give at least one token of text");
        }
        return tokens;
    }

    private static List<String> stops(JsonNode node) {
        List<String> stops = new ArrayList<>();
        if (node == null || node.isNull()) {
            return stops;
        }
        if (node.isTextual()) {
            stops.add(wellFormed("stop", node.asText()));
        } else if (node.isArray()) {
            if (node.size() > MAX_STOPS) {
                throw ApiException.invalid("stop", "at most " + MAX_STOPS + " stop strings, got " + node.size());
            }
            for (JsonNode s : node) {
                if (!s.isTextual()) {
                    throw ApiException.invalid("stop", "stop must be a string or an array of strings, found " + s);
                }
                stops.add(wellFormed("stop", s.asText()));
            }
        } else {
            throw ApiException.invalid("stop", "stop must be a string or an array of strings");
        }
        if (stops.contains("")) {
            throw ApiException.invalid("stop", "a stop string cannot be empty");
        }
        return stops;
    }

    /**
     * {@code text}, refused if it holds a lone surrogate (JSON's "\\ud83d" alone): encoded to UTF-8 it would become
     * '?', and a prompt or a stop string would silently be another one.
     */
    private static String wellFormed(String param, String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw ApiException.invalid(param, param + " holds a lone UTF-16 surrogate (\\u" + HexFormat.of().toHexDigits(c)
                        + ") at character " + i + ": not text that UTF-8 can carry");
            }
        }
        return text;
    }

    private static float penalty(JsonNode root, String name) {
        float value = number(root, name, 0f);
        if (!(value >= -2 && value <= 2)) {
            throw ApiException.invalid(name, name + " must be between -2 and 2, got " + value);
        }
        return value;
    }

    private static boolean isNull(JsonNode root, String name) {
        JsonNode node = root.get(name);
        return node == null || node.isNull();
    }

    private static String string(JsonNode root, String name) {
        if (isNull(root, name)) {
            return null;
        }
        JsonNode node = root.get(name);
        if (!node.isTextual()) {
            throw typeError(name, "a string", node);
        }
        return node.asText();
    }

    private static int integer(JsonNode root, String name, int fallback) {
        if (isNull(root, name)) {
            return fallback;
        }
        JsonNode node = root.get(name);
        if (!node.isNumber() || !node.canConvertToExactIntegral() || !node.canConvertToInt()) {
            throw typeError(name, "an integer", node);
        }
        return node.asInt();
    }

    private static long longInteger(JsonNode root, String name) {
        JsonNode node = root.get(name);
        if (!node.isNumber() || !node.canConvertToExactIntegral() || !node.canConvertToLong()) {
            throw typeError(name, "an integer", node);
        }
        return node.asLong();
    }

    private static float number(JsonNode root, String name, float fallback) {
        if (isNull(root, name)) {
            return fallback;
        }
        JsonNode node = root.get(name);
        if (!node.isNumber() || !Float.isFinite(node.floatValue())) {
            throw typeError(name, "a finite number", node);
        }
        return node.floatValue();
    }

    private static boolean bool(JsonNode root, String name, boolean fallback) {
        if (isNull(root, name)) {
            return fallback;
        }
        JsonNode node = root.get(name);
        if (!node.isBoolean()) {
            throw typeError(name, "a boolean", node);
        }
        return node.asBoolean();
    }

    private static ApiException typeError(String name, String expected, JsonNode got) {
        String shown = got.toString();
        return ApiException.invalid(name, name + " must be " + expected + ", got " + (shown.length() > 40 ? shown.substring(0, 40) + "..." : shown));
    }
}
