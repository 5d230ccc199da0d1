package tinyllm.serve;

import java.util.stream.Collectors;
import java.util.stream.IntStream;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import tinyllm.Fixtures;
import tinyllm.api.Model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every bad request gets OpenAI's error shape with the right status, type, param and code, and a message that
 * names the problem; never a stack trace, and the server goes on serving. On micro.bin: V = 500, context 64.
 */
@Timeout(60)
class CompletionErrorsTest {
    static final int BODY_LIMIT = 4096;
    static Model model;
    static CompletionServer server;

    @BeforeAll
    static void start() {
        model = Http.open(Fixtures.path("micro.bin"));
        server = Http.serve(model, 2, 4, 16, BODY_LIMIT);
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
    }

    /** Posts {@code body}; asserts the status and OpenAI's error shape; returns the error object. */
    static JsonNode error(String body, int status, String param, String code) throws Exception {
        Http.Reply r = Http.post(server, body);
        assertEquals(status, r.status(), r.json().toString());
        var error = r.json().path("error");
        assertTrue(error.isObject(), r.json().toString());
        assertFalse(error.path("message").asText().isBlank());
        assertFalse(error.path("message").asText().contains("\tat "), "no stack trace");
        assertFalse(error.path("type").asText().isBlank());
        assertTrue(error.has("param") && error.has("code"), "every field present, null if unused");
        assertEquals(param, error.path("param").isNull() ? null : error.path("param").asText(), error.toString());
        assertEquals(code, error.path("code").isNull() ? null : error.path("code").asText(), error.toString());
        return error;
    }

    @Test
    void malformedJsonIs400() throws Exception {
        error("{\"prompt\": [1, 2", 400, null, null);
        error("[1, 2, 3]", 400, null, null);
        error("", 400, null, null);
    }

    @Test
    void wrongTypesName400TheParameter() throws Exception {
        error("{\"prompt\": [1], \"max_tokens\": \"ten\"}", 400, "max_tokens", null);
        error("{\"prompt\": [1], \"temperature\": \"hot\"}", 400, "temperature", null);
        error("{\"prompt\": [1], \"stream\": 1}", 400, "stream", null);
        error("{\"prompt\": [1], \"logprobs\": true}", 400, "logprobs", null);
        error("{\"prompt\": [1], \"stop\": 7}", 400, "stop", null);
        error("{\"prompt\": 42}", 400, "prompt", null);
        error("{\"prompt\": [1, \"two\"]}", 400, "prompt", null);
    }

    @Test
    void aBodyWithMoreAfterItsJsonIs400() throws Exception {
        error("{\"prompt\": [1], \"max_tokens\": 2} xyz", 400, null, null);
        error("{\"prompt\": [1], \"max_tokens\": 2} {\"prompt\": [2]}", 400, null, null);
    }

    /** A lone UTF-16 surrogate would become '?' in UTF-8: a different prompt or stop string, silently. */
    @Test
    void loneSurrogatesInTextAre400() throws Exception {
        error("{\"prompt\": [1], \"stop\": \"\\ud83d\"}", 400, "stop", null);
        error("{\"prompt\": [1], \"stop\": [\"ok\", \"\\ude00x\"]}", 400, "stop", null);
        error("{\"prompt\": \"hi \\ud83d\"}", 400, "prompt", null);
        // A pair is a character: accepted (micro's vocabulary holds GPT-2's byte tokens).
        assertEquals(200, Http.post(server, "{\"prompt\": [1], \"max_tokens\": 1, \"stop\": \"\\ud83d\\ude00\"}").status());
    }

    @Test
    void wrongMethodsAre405AndHeadHealthIsServed() throws Exception {
        var get = Http.get(server, "/v1/completions");
        assertEquals(405, get.statusCode(), get.body());
        assertEquals("POST", get.headers().firstValue("Allow").orElse(null));
        assertEquals("method_not_allowed", Http.JSON.readTree(get.body()).path("error").path("code").asText(), get.body());
        var head = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + server.port() + "/health")).method("HEAD", java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
                java.net.http.HttpResponse.BodyHandlers.discarding());
        assertEquals(200, head.statusCode());
        var post = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + server.port() + "/v1/models/test-model")).POST(java.net.http.HttpRequest.BodyPublishers.ofString("{}")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode(), post.body());
    }

    /** --max-batch and --step-tokens whose buffers cannot fit: one line at start, not memory zeroed until the system kills us. */
    @Test
    void slotsBeyondTheMachinesMemoryAreRefusedAtStart() {
        var e = org.junit.jupiter.api.Assertions.assertThrows(tinyllm.TinyLlmException.class,
                () -> Http.serve(model, 1 << 28, 8, 1 << 28, BODY_LIMIT));
        assertTrue(e.getMessage().contains("--max-batch") && e.getMessage().contains("three quarters of this machine's"), e.getMessage());
    }

    /** A body shorter than its Content-Length: 400 in OpenAI's shape, no class names, and the connection closed. */
    @Test
    void brokenHttpFramingIs400() throws Exception {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(30_000);
            String body = "{\"prompt\": [1, 2, 3]}";
            socket.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 100\r\n\r\n" + body).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            socket.shutdownOutput();
            String reply = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(reply.startsWith("HTTP/1.1 400"), reply);
            assertTrue(reply.contains("\"type\":\"invalid_request_error\"") && reply.contains("framing"), reply);
            assertFalse(reply.contains("Exception"), reply);
        }
    }

    @Test
    void unknownFieldsAreIgnored() throws Exception {
        Http.Reply r = Http.post(server, "{\"prompt\": [1, 2], \"max_tokens\": 2, \"temperature\": 0, \"no_such_field\": {\"x\": 1}}");
        assertEquals(200, r.status(), r.json().toString());
        assertEquals(2, r.json().path("usage").path("completion_tokens").asInt());
    }

    @Test
    void outOfRangeSettingsAre400() throws Exception {
        error("{\"prompt\": [1], \"max_tokens\": 0}", 400, "max_tokens", null);
        error("{\"prompt\": [1], \"temperature\": -0.5}", 400, "temperature", null);
        error("{\"prompt\": [1], \"temperature\": 1e-39}", 400, "temperature", null); // 1/t overflows a float
        error("{\"prompt\": [1], \"temperature\": 1e-50}", 400, "temperature", null); // a float 0, yet not asked greedy
        // The smallest the message names is accepted.
        var smallest = error("{\"prompt\": [1], \"temperature\": 1e-39}", 400, "temperature", null).path("message").asText();
        String named = smallest.substring(smallest.indexOf("from ") + 5, smallest.indexOf(" up"));
        assertEquals(200, Http.post(server, "{\"prompt\": [1], \"max_tokens\": 1, \"temperature\": " + named + "}").status(), named);
        error("{\"prompt\": [1], \"logprobs\": -1}", 400, "logprobs", null);
        error("{\"prompt\": [1], \"top_p\": 0}", 400, "top_p", null);
        error("{\"prompt\": [1], \"top_p\": 1.5}", 400, "top_p", null);
        error("{\"prompt\": [1], \"logprobs\": 6}", 400, "logprobs", null);
        error("{\"prompt\": [1], \"frequency_penalty\": 3}", 400, "frequency_penalty", null);
        error("{\"prompt\": [1], \"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", 400, "stop", null);
    }

    @Test
    void severalChoicesAreRefusedAsUnsupported() throws Exception {
        var error = error("{\"prompt\": [1], \"n\": 2}", 400, "n", "unsupported_parameter");
        assertTrue(error.path("message").asText().contains("not supported"), error.toString());
        error("{\"prompt\": [1], \"best_of\": 3}", 400, "best_of", "unsupported_parameter");
    }

    @Test
    void tokenIdsOutOfTheVocabularyAre400() throws Exception {
        var error = error("{\"prompt\": [1, 500]}", 400, "prompt", null);
        assertTrue(error.path("message").asText().contains("500"), error.toString());
        error("{\"prompt\": [-1]}", 400, "prompt", null);
        // Text whose GPT-2 tokens lie beyond this model's 500: refused before the 200, not by the engine mid-stream.
        var text = error("{\"prompt\": \"what happened to the quick brown fox?\", \"stream\": true}", 400, "prompt", null);
        assertTrue(text.path("message").asText().contains("of the prompt's text is out of range"), text.toString());
    }

    @Test
    void promptAndMaxTokensBeyondTheContextNameBothNumbers() throws Exception {
        String prompt = IntStream.range(0, 60).mapToObj(Integer::toString).collect(Collectors.joining(","));
        var error = error("{\"prompt\": [" + prompt + "], \"max_tokens\": 10}", 400, "max_tokens", "context_length_exceeded");
        String message = error.path("message").asText();
        assertTrue(message.contains("60") && message.contains("10") && message.contains("64"), message);
        // The one context rule: the last new token is never fed, so 60 + 5 - 1 = 64 fits exactly.
        assertEquals(200, Http.post(server, "{\"prompt\": [" + prompt + "], \"max_tokens\": 5, \"temperature\": 0}").status());
        // A prompt longer than the context: the prompt is at fault, whatever max_tokens.
        String full = IntStream.range(0, 65).mapToObj(Integer::toString).collect(Collectors.joining(","));
        error("{\"prompt\": [" + full + "], \"max_tokens\": 1}", 400, "prompt", "context_length_exceeded");
    }

    @Test
    void anEmptyPromptIs400() throws Exception {
        error("{\"prompt\": \"\"}", 400, "prompt", null);
        error("{\"prompt\": []}", 400, "prompt", null);
        error("{\"max_tokens\": 3}", 400, "prompt", null);
    }

    @Test
    void aBodyOverTheLimitIs413() throws Exception {
        String prompt = "1,".repeat(BODY_LIMIT) + "1";
        error("{\"prompt\": [" + prompt + "]}", 413, null, "request_too_large");
    }

    @Test
    void aWrongModelNameIs404() throws Exception {
        var error = error("{\"model\": \"gpt-4\", \"prompt\": [1]}", 404, "model", "model_not_found");
        assertTrue(error.path("message").asText().contains("gpt-4"), error.toString());
    }

    @Test
    void anUnknownPathIs404InTheSameShape() throws Exception {
        var r = Http.get(server, "/v1/chat/nothing");
        assertEquals(404, r.statusCode());
        assertTrue(Http.JSON.readTree(r.body()).path("error").isObject(), r.body());
    }

    @Test
    void theServerServesOnAfterBadRequests() throws Exception {
        error("{{{", 400, null, null);
        error("{\"prompt\": [1], \"n\": 5}", 400, "n", "unsupported_parameter");
        Http.Reply ok = Http.post(server, "{\"prompt\": [10, 200], \"max_tokens\": 3, \"temperature\": 0}");
        assertEquals(200, ok.status());
        assertEquals(200, Http.get(server, "/health").statusCode());
    }

    @Test
    void healthSaysWarmingUpWhileTheKernelsCompileAndRequestsAreStillServed() throws Exception {
        server.warmingUp(true);
        try {
            var health = Http.get(server, "/health");
            assertEquals(503, health.statusCode());
            assertEquals("warming_up", Http.JSON.readTree(health.body()).path("error").path("code").asText(), health.body());
            assertEquals(200, Http.post(server, "{\"prompt\": [10, 200], \"max_tokens\": 2, \"temperature\": 0}").status());
        } finally {
            server.warmingUp(false);
        }
        assertEquals(200, Http.get(server, "/health").statusCode());
    }
}
