package tinyllm.serve;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import tinyllm.api.Model;

/** A loopback client for the server tests: JSON in, JSON out, SSE streams read to the end; every call bounded in time. */
final class Http {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();

    private Http() {}

    record Reply(int status, JsonNode json) {}

    /** Starts a server on a free loopback port. */
    static CompletionServer serve(Model model, int maxBatch, int maxQueue, int stepTokens, int maxBodyBytes) {
        return CompletionServer.start(model, "test-model", new CompletionServer.Options("127.0.0.1", 0, maxBatch, maxQueue, stepTokens, maxBodyBytes));
    }

    static Model open(Path checkpoint) {
        return Model.open(checkpoint, 2);
    }

    static Reply post(CompletionServer server, String body) throws IOException, InterruptedException {
        HttpResponse<String> r = CLIENT.send(request(server, "/v1/completions").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), JSON.readTree(r.body()));
    }

    static HttpResponse<String> get(CompletionServer server, String path) throws IOException, InterruptedException {
        return CLIENT.send(request(server, path).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A streamed completion: the status, and each event's data ("[DONE]" included) in order. */
    record Stream(int status, List<String> events, String contentType) {
        /** The JSON chunks, without [DONE]. */
        List<JsonNode> chunks() throws IOException {
            List<JsonNode> chunks = new ArrayList<>();
            for (String e : events) {
                if (!e.equals("[DONE]")) chunks.add(JSON.readTree(e));
            }
            return chunks;
        }

        /** The completion's text, put together from the chunks. */
        String text() throws IOException {
            StringBuilder text = new StringBuilder();
            for (JsonNode chunk : chunks()) {
                for (JsonNode choice : chunk.path("choices")) text.append(choice.path("text").asText());
            }
            return text.toString();
        }

        String finishReason() throws IOException {
            for (JsonNode chunk : chunks()) {
                for (JsonNode choice : chunk.path("choices")) {
                    if (!choice.path("finish_reason").isNull()) return choice.path("finish_reason").asText();
                }
            }
            return null;
        }
    }

    static Stream stream(CompletionServer server, String body) throws IOException, InterruptedException {
        HttpResponse<java.util.stream.Stream<String>> r = CLIENT.send(
                request(server, "/v1/completions").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofLines());
        List<String> events = new ArrayList<>();
        r.body().forEach(line -> {
            if (line.startsWith("data: ")) events.add(line.substring(6));
        });
        return new Stream(r.statusCode(), events, r.headers().firstValue("content-type").orElse(""));
    }

    private static HttpRequest.Builder request(CompletionServer server, String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).timeout(TIMEOUT)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json");   // as the OpenAI clients send it, streams too
    }
}
