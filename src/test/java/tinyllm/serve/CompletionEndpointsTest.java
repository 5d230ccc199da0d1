package tinyllm.serve;

import java.util.Arrays;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import tinyllm.Fixtures;
import tinyllm.api.Model;
import tinyllm.tokenizer.GPT2Tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The endpoints, streaming and not, in OpenAI's shapes; on micro.bin, whose greedy continuation llm.c gives us. */
@Timeout(60)
class CompletionEndpointsTest {
    static final GPT2Tokenizer TOKENIZER = new GPT2Tokenizer();
    static final String GREEDY_PROMPT = "{\"prompt\": [10, 200, 257, 499], \"temperature\": 0, \"max_tokens\": 12";
    static Model model;
    static CompletionServer server;

    @BeforeAll
    static void start() {
        model = Http.open(Fixtures.path("micro.bin"));
        server = Http.serve(model, 4, 8, 32, 1 << 20);
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
    }

    static String llmcGreedyText(int tokens) {
        return TOKENIZER.decode(Arrays.copyOf(Fixtures.greedyTokens("micro.greedy.txt"), tokens));
    }

    @Test
    void aCompletionHasOpenAisShapeAndLlmcsGreedyTokens() throws Exception {
        Http.Reply r = Http.post(server, GREEDY_PROMPT + ", \"model\": \"test-model\", \"user\": \"someone\"}");
        assertEquals(200, r.status(), r.json().toString());
        JsonNode body = r.json();
        assertTrue(body.path("id").asText().startsWith("cmpl-"), body.toString());
        assertEquals("text_completion", body.path("object").asText());
        assertTrue(body.path("created").asLong() > 1_600_000_000L);
        assertEquals("test-model", body.path("model").asText());
        JsonNode choice = body.path("choices").get(0);
        assertEquals(llmcGreedyText(12), choice.path("text").asText());
        assertEquals(0, choice.path("index").asInt());
        assertTrue(choice.path("logprobs").isNull());
        assertEquals("length", choice.path("finish_reason").asText());
        assertEquals(4, body.path("usage").path("prompt_tokens").asInt());
        assertEquals(12, body.path("usage").path("completion_tokens").asInt());
        assertEquals(16, body.path("usage").path("total_tokens").asInt());
    }

    @Test
    void maxTokensDefaultsTo16() throws Exception {
        Http.Reply r = Http.post(server, "{\"prompt\": [10, 200, 257, 499], \"temperature\": 0}");
        assertEquals(16, r.json().path("usage").path("completion_tokens").asInt());
    }

    @Test
    void aStreamSendsOneEventPerTokenThenTheFinishThenDone() throws Exception {
        Http.Stream s = Http.stream(server, GREEDY_PROMPT + ", \"stream\": true}");
        assertEquals(200, s.status());
        assertTrue(s.contentType().startsWith("text/event-stream"), s.contentType());
        assertEquals("[DONE]", s.events().getLast());
        List<JsonNode> chunks = s.chunks();
        assertEquals(12 + 1, chunks.size(), "one chunk per token and one with the finish reason");
        for (JsonNode chunk : chunks.subList(0, 12)) {
            assertEquals("text_completion", chunk.path("object").asText());
            assertTrue(chunk.path("choices").get(0).path("finish_reason").isNull());
            assertTrue(!chunk.has("usage"), "usage only when stream_options.include_usage");
        }
        assertEquals("length", s.finishReason());
        assertEquals(llmcGreedyText(12), s.text());
    }

    @Test
    void includeUsageAddsAUsageChunkBeforeDone() throws Exception {
        Http.Stream s = Http.stream(server, GREEDY_PROMPT + ", \"stream\": true, \"stream_options\": {\"include_usage\": true}}");
        List<JsonNode> chunks = s.chunks();
        JsonNode last = chunks.getLast();
        assertEquals(0, last.path("choices").size());
        assertEquals(12, last.path("usage").path("completion_tokens").asInt());
        assertEquals(16, last.path("usage").path("total_tokens").asInt());
        assertTrue(chunks.getFirst().path("usage").isNull(), "the other chunks carry usage: null");
    }

    @Test
    void logprobsGiveTheChosenTokenAndTheTopAlternatives() throws Exception {
        Http.Reply r = Http.post(server, GREEDY_PROMPT + ", \"logprobs\": 3}");
        JsonNode logprobs = r.json().path("choices").get(0).path("logprobs");
        assertEquals(12, logprobs.path("tokens").size());
        assertEquals(12, logprobs.path("token_logprobs").size());
        assertEquals(12, logprobs.path("text_offset").size());
        for (int i = 0; i < 12; i++) {
            JsonNode top = logprobs.path("top_logprobs").get(i);
            assertEquals(3, top.size(), top.toString());
            double chosen = logprobs.path("token_logprobs").get(i).asDouble();
            assertTrue(chosen < 0 && chosen > Math.log(1.0 / 500) - 1, "micro's flat distribution: about log(1/500), got " + chosen);
            // Greedy chose the most likely token: its logprob is the first alternative's.
            double best = top.elements().next().asDouble();
            assertEquals(best, chosen, 1e-6);
            String token = logprobs.path("tokens").get(i).asText();
            assertEquals(chosen, top.path(token).asDouble(), 1e-6, "the chosen token is the top alternative");
        }
        Http.Stream s = Http.stream(server, GREEDY_PROMPT + ", \"logprobs\": 0, \"stream\": true}");
        JsonNode first = s.chunks().getFirst().path("choices").get(0).path("logprobs");
        assertEquals(1, first.path("token_logprobs").size());
        assertEquals(0, first.path("top_logprobs").get(0).size());
    }

    @Test
    void aStopStringEndsTheTextBeforeIt() throws Exception {
        // micro's greedy text is token 281's text three times, then token 71's: stop at the first 71.
        String stop = TOKENIZER.decode(new int[] {71});
        String body = GREEDY_PROMPT + ", \"stop\": [" + Http.JSON.writeValueAsString(stop) + "]";
        Http.Reply r = Http.post(server, body + "}");
        JsonNode choice = r.json().path("choices").get(0);
        assertEquals("stop", choice.path("finish_reason").asText());
        assertEquals(llmcGreedyText(3), choice.path("text").asText());
        Http.Stream s = Http.stream(server, body + ", \"stream\": true}");
        assertEquals(llmcGreedyText(3), s.text());
        assertEquals("stop", s.finishReason());
    }

    @Test
    void penaltiesBreakTheGreedyLoop() throws Exception {
        JsonNode plain = Http.post(server, GREEDY_PROMPT + ", \"logprobs\": 0}").json().path("choices").get(0).path("logprobs");
        JsonNode penalised = Http.post(server, GREEDY_PROMPT + ", \"logprobs\": 0, \"frequency_penalty\": 2, \"presence_penalty\": 1}")
                .json().path("choices").get(0).path("logprobs");
        assertEquals(2, distinct(plain.path("tokens")), "the positive control: micro's greedy loop repeats two tokens");
        // micro's logits lie within 1.5 of each other, so a token used once (-3) falls below every unused one.
        assertEquals(12, distinct(penalised.path("tokens")), penalised.path("tokens").toString());
    }

    static long distinct(JsonNode tokens) {
        java.util.Set<String> seen = new java.util.HashSet<>();
        tokens.forEach(t -> seen.add(t.asText()));
        return seen.size();
    }

    @Test
    void seededSamplingRepeatsAndOtherSeedsDiffer() throws Exception {
        String body = "{\"prompt\": [1, 2, 3], \"max_tokens\": 20, \"temperature\": 1.5, \"top_k\": 100, \"seed\": ";
        String a = Http.post(server, body + "7}").json().path("choices").get(0).path("text").asText();
        String b = Http.post(server, body + "7}").json().path("choices").get(0).path("text").asText();
        String c = Http.post(server, body + "8}").json().path("choices").get(0).path("text").asText();
        assertEquals(a, b);
        assertNotEquals(a, c);
    }

    /**
     * text_offset is where each token's text starts in the completion, in code points of complete characters,
     * the same streamed or not and with a stop string holding text back (each mode used to count differently).
     */
    @Test
    void textOffsetsAreWhereEachTokensTextStartsInBothModes() throws Exception {
        int[] greedy = Fixtures.greedyTokens("micro.greedy.txt");
        String request = GREEDY_PROMPT + ", \"logprobs\": 0";
        JsonNode whole = Http.post(server, request + "}").json().path("choices").get(0).path("logprobs").path("text_offset");
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < 12; i++) {
            String before = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.IGNORE)
                    .decode(java.nio.ByteBuffer.wrap(completeCharacters(bytes.toByteArray()))).toString();
            assertEquals(before.codePointCount(0, before.length()), whole.get(i).asInt(), "token " + i + " in " + whole);
            bytes.write(TOKENIZER.bytes(greedy[i]));
        }
        for (String stop : new String[] {null, llmcGreedyText(12).substring(5, 9)}) {
            String body = request + (stop == null ? "" : ", \"stop\": " + Http.JSON.writeValueAsString(stop));
            List<Integer> streamed = new java.util.ArrayList<>(), notStreamed = new java.util.ArrayList<>();
            for (JsonNode chunk : Http.stream(server, body + ", \"stream\": true}").chunks()) {
                chunk.path("choices").get(0).path("logprobs").path("text_offset").forEach(o -> streamed.add(o.asInt()));
            }
            Http.post(server, body + "}").json().path("choices").get(0).path("logprobs").path("text_offset")
                    .forEach(o -> notStreamed.add(o.asInt()));
            assertEquals(notStreamed, streamed, "stop " + stop);
        }
    }

    /** {@code bytes} without a UTF-8 character it ends inside of. */
    private static byte[] completeCharacters(byte[] bytes) {
        int end = bytes.length, start = end;
        while (start > 0 && (bytes[start - 1] & 0xC0) == 0x80 && end - start < 3) start--;
        if (start > 0 && (bytes[start - 1] & 0xC0) == 0xC0) {
            int lead = bytes[start - 1] & 0xFF, need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
            if (end - (start - 1) < need) return Arrays.copyOf(bytes, start - 1);
        }
        return bytes;
    }

    @Test
    void modelsHealthAndMetrics() throws Exception {
        JsonNode models = Http.JSON.readTree(Http.get(server, "/v1/models").body());
        assertEquals("list", models.path("object").asText());
        assertEquals("test-model", models.path("data").get(0).path("id").asText());
        assertEquals("model", models.path("data").get(0).path("object").asText());
        var one = Http.get(server, "/v1/models/test-model");
        assertEquals(200, one.statusCode(), one.body());
        assertEquals("test-model", Http.JSON.readTree(one.body()).path("id").asText(), "the clients' models.retrieve()");
        var other = Http.get(server, "/v1/models/gpt-4");
        assertEquals(404, other.statusCode());
        assertEquals("model_not_found", Http.JSON.readTree(other.body()).path("error").path("code").asText(), other.body());
        assertEquals(200, Http.get(server, "/health").statusCode());

        Http.post(server, GREEDY_PROMPT + "}");
        String metrics = Http.get(server, "/metrics").body();
        for (String name : List.of("tinyllm_requests_total{status=\"200\"}", "tinyllm_queue_depth", "tinyllm_sequences_running",
                "tinyllm_tokens_generated_total", "tinyllm_tokens_prompt_total", "tinyllm_time_to_first_token_seconds_bucket",
                "tinyllm_inter_token_latency_seconds_bucket", "tinyllm_step_duration_seconds_bucket")) {
            assertTrue(metrics.contains(name), name + " in\n" + metrics);
        }
    }
}
