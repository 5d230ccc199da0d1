package tinyllm.serve;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import tinyllm.TinyLlmException;
import tinyllm.api.Model;
import tinyllm.tokenizer.GPT2Tokenizer;

/**
 * The OpenAI-compatible HTTP face of a {@link Scheduler}, on Helidon SE's web server: each request is served by a
 * virtual thread that reads and checks the body, hands the request to the engine, and writes what the engine emits,
 * as it comes (an SSE stream) or at the end (one JSON body).
 *
 * <p>Endpoints: {@code POST /v1/completions}, {@code GET /v1/models}, {@code GET /health}, {@code GET /metrics}.
 * Every error is a JSON body in OpenAI's shape, {@code {"error": {"message", "type", "param", "code"}}}.
 */
public final class CompletionServer implements AutoCloseable {
    /** Settings of {@code tinyllm serve}. */
    public record Options(String host, int port, int maxBatch, int maxQueue, int stepTokens, int maxBodyBytes) {
        public static Options defaults() {
            return new Options("127.0.0.1", 8000, 16, 64, 256, 1 << 20);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] END_OF_EVENT = "\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
    /** How long a waiting handler sleeps between looks at a stalled request: bounds a lost wake-up, nothing else. */
    private static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final Model model;
    private final String modelName;
    private final long created = System.currentTimeMillis() / 1000;
    private final GPT2Tokenizer tokenizer = new GPT2Tokenizer();
    private final Options options;
    private final ServerMetrics metrics = new ServerMetrics();
    private final Scheduler scheduler;
    private final WebServer server;
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile boolean warmingUp;

    private CompletionServer(Model model, String modelName, Options options, boolean warmingUp) {
        this.model = model;
        this.modelName = modelName;
        this.options = options;
        this.warmingUp = warmingUp; // before the port opens, so /health never says 200 and then 503
        tokenizer.vocabulary();   // built once now, not on the first request
        this.scheduler = new Scheduler(model, options.maxBatch(), options.maxQueue(), options.stepTokens(), metrics);
        try {
            this.server = WebServer.builder()
                    .host(options.host())
                    .port(options.port())
                    .shutdownHook(false)   // tinyllm serve drains on SIGTERM itself, then stops the server
                    .routing(this::routing)
                    .build()
                    .start();
            if (!server.isRunning()) {
                throw new TinyLlmException("cannot listen on " + options.host() + ":" + options.port()
                        + " (in use, or not an address of this machine)");
            }
        } catch (RuntimeException e) {
            scheduler.close();
            throw e;
        }
    }

    /**
     * Starts serving {@code model} as {@code modelName}; returns once the port is open and the engine ready.
     *
     * @throws TinyLlmException when the address cannot be listened on
     */
    public static CompletionServer start(Model model, String modelName, Options options) {
        return start(model, modelName, options, false);
    }

    /** As {@link #start(Model, String, Options)}, {@linkplain #warmingUp(boolean) warming up} from the first request if asked. */
    public static CompletionServer start(Model model, String modelName, Options options, boolean warmingUp) {
        // Tried first, so that a port in use is one line for the user, not the web server's logged stack trace.
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(new InetSocketAddress(options.host(), options.port()));
        } catch (IOException e) {
            throw new TinyLlmException("cannot listen on " + options.host() + ":" + options.port() + ": " + e.getMessage());
        }
        return new CompletionServer(model, modelName, options, warmingUp);
    }

    /**
     * While true, {@code GET /health} answers 503 (code {@code warming_up}): the kernels are still being compiled,
     * so a request would be served, but slowly. A load balancer or a script waiting for 200 then gets full speed.
     */
    public void warmingUp(boolean warming) {
        this.warmingUp = warming;
    }

    /** The port listened on (the one chosen when the options asked for 0). */
    public int port() {
        return server.port();
    }

    public String modelName() {
        return modelName;
    }

    Scheduler scheduler() {
        return scheduler;
    }

    /**
     * Graceful shutdown: refuses new requests (503) at once, lets those queued or running finish for at most
     * {@code bound}, then stops the engine (cutting off what is left) and the web server.
     *
     * @return true if everything finished within the bound
     */
    public boolean shutdown(Duration bound) {
        scheduler.stopAccepting();
        long deadline = System.nanoTime() + bound.toNanos();
        while (!scheduler.idle() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        boolean drained = scheduler.idle();
        close();
        return drained;
    }

    /** Stops at once: requests still running fail. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            scheduler.stopAccepting();
            scheduler.close();
            server.stop();
        }
    }

    private void routing(HttpRouting.Builder routing) {
        routing.post("/v1/completions", this::completions)
                .get("/v1/models", this::models)
                .route(Method.HEAD, "/v1/models", this::models)
                .get("/v1/models/{id}", this::model)
                .route(Method.HEAD, "/v1/models/{id}", this::model)
                .get("/health", this::health)
                .route(Method.HEAD, "/health", this::health)
                .get("/metrics", this::metrics)
                .route(Method.HEAD, "/metrics", this::metrics)
                .any("/v1/completions", (req, res) -> wrongMethod(req, res, "POST"))
                .any("/v1/models", (req, res) -> wrongMethod(req, res, "GET, HEAD"))
                .any("/v1/models/{id}", (req, res) -> wrongMethod(req, res, "GET, HEAD"))
                .any("/health", (req, res) -> wrongMethod(req, res, "GET, HEAD"))
                .any("/metrics", (req, res) -> wrongMethod(req, res, "GET, HEAD"))
                .any((req, res) -> error(res, new ApiException(404, "invalid_request_error", null, "not_found",
                        "no such endpoint: " + req.prologue().method().text() + " " + req.path().path()
                                + " (this server has POST /v1/completions, GET /v1/models, /health, /metrics)")))
                .error(Throwable.class, (req, res, e) -> {
                    if (!res.isSent()) {
                        error(res, new ApiException(500, "server_error", null, null, "internal error: " + e));
                    }
                });
    }

    private void wrongMethod(ServerRequest req, ServerResponse res, String allowed) {
        res.header(HeaderNames.ALLOW, allowed);
        error(res, new ApiException(405, "invalid_request_error", null, "method_not_allowed",
                req.prologue().method().text() + " " + req.path().path() + " is not served: use " + allowed));
    }

    private void health(ServerRequest req, ServerResponse res) {
        if (!scheduler.accepting()) {
            error(res, Scheduler.shuttingDown());
            return;
        }
        if (warmingUp) {
            error(res, new ApiException(503, "server_error", null, "warming_up",
                    "the server is compiling its kernels; requests are taken, but served slowly until this answers 200"));
            return;
        }
        json(res, 200, JSON.createObjectNode().put("status", "ok"));
    }

    private void metrics(ServerRequest req, ServerResponse res) {
        res.header(HeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
        res.send(metrics.scrape().getBytes(StandardCharsets.UTF_8));
    }

    private void models(ServerRequest req, ServerResponse res) {
        ObjectNode body = JSON.createObjectNode().put("object", "list");
        body.putArray("data").add(modelObject());
        json(res, 200, body);
    }

    /** GET /v1/models/{id}: the official clients' models.retrieve(). */
    private void model(ServerRequest req, ServerResponse res) {
        String id = req.path().pathParameters().get("id");
        if (!id.equals(modelName)) {
            error(res, new ApiException(404, "invalid_request_error", "model", "model_not_found",
                    "the model '" + id + "' does not exist: this server serves '" + modelName + "'"));
            return;
        }
        json(res, 200, modelObject());
    }

    private ObjectNode modelObject() {
        return JSON.createObjectNode()
                .put("id", modelName)
                .put("object", "model")
                .put("created", created)
                .put("owned_by", "tinyllm")
                .put("max_model_len", model.config().maxSeqLen());
    }

    private void completions(ServerRequest req, ServerResponse res) {
        Completion completion;
        try {
            if (!scheduler.accepting()) {
                throw Scheduler.shuttingDown();
            }
            CompletionRequest request = CompletionRequest.parse(body(req, res), modelName, model.config(), tokenizer);
            completion = new Completion(request, tokenizer, model.config().vocabSize(), ThreadLocalRandom.current().nextLong());
            scheduler.submit(completion);
        } catch (ApiException e) {
            error(res, e);
            return;
        }
        String id = "cmpl-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        long createdAt = System.currentTimeMillis() / 1000;
        if (completion.request.stream()) {
            stream(res, completion, id, createdAt);
        } else {
            whole(res, completion, id, createdAt);
        }
    }

    /** The body, refused with 413 past the size limit (checked as it is read: Content-Length may be absent). */
    private byte[] body(ServerRequest req, ServerResponse res) {
        long declared = req.headers().contentLength().orElse(-1);
        int limit = options.maxBodyBytes();
        if (declared > limit) {
            throw tooLarge(limit);
        }
        try (InputStream in = req.content().inputStream()) {
            byte[] body = in.readNBytes(limit + 1);
            if (body.length > limit) {
                throw tooLarge(limit);
            }
            return body;
        } catch (IOException e) {
            throw ApiException.invalid(null, "cannot read the body: " + e.getMessage());
        } catch (ApiException e) {
            throw e;
        } catch (RuntimeException e) {
            // The web server's reader fails on broken HTTP framing (a body shorter than its Content-Length, a chunk
            // size that is not hex). After that the connection's bytes mean nothing: answer, then close it.
            res.header(HeaderNames.CONNECTION, "close");
            throw ApiException.invalid(null, "cannot read the body: its HTTP framing is broken (a body shorter than its "
                    + "Content-Length, or a malformed chunk)");
        }
    }

    private static ApiException tooLarge(int limit) {
        return new ApiException(413, "invalid_request_error", null, "request_too_large",
                "the body is over the server's limit of " + limit + " bytes");
    }

    /** Non-streaming: waits for the end, answers with the whole completion. */
    private void whole(ServerResponse res, Completion c, String id, long createdAt) {
        while (c.finished() == null) {
            c.awaitProgress(c.published, WAIT_NANOS);
        }
        if (c.finished() == Completion.Finish.FAILED) {
            error(res, c.failure);
            return;
        }
        int n = c.published;
        ObjectNode body = head(id, createdAt);
        ObjectNode choice = body.putArray("choices").addObject()
                .put("text", new String(c.text, 0, c.finalVisibleEnd, StandardCharsets.UTF_8))
                .put("index", 0);
        if (c.tokenLogprobs != null) {
            choice.set("logprobs", logprobs(c, 0, n));
        } else {
            choice.putNull("logprobs");
        }
        choice.put("finish_reason", c.finished().openAi);
        usage(body.putObject("usage"), c);
        json(res, 200, body);
    }

    /**
     * Streaming: one SSE event per new token, a last one with the finish reason, the usage if asked, then
     * {@code [DONE]}. A client gone away shows as a failed write: the request is cancelled, and the engine frees its
     * slot at its next step.
     */
    private void stream(ServerResponse res, Completion c, String id, long createdAt) {
        metrics.request(200);
        res.header(HeaderNames.CONTENT_TYPE, "text/event-stream");
        res.header(HeaderNames.CACHE_CONTROL, "no-cache");
        try (OutputStream sink = res.outputStream()) {
            int sent = 0, textSent = 0;
            while (true) {
                Completion.Finish finish = c.finished();   // read before published: once set, published is final
                int n = c.published;
                for (; sent < n; sent++) {
                    int end = c.textEnd[sent];
                    ObjectNode chunk = head(id, createdAt);
                    ObjectNode choice = chunk.putArray("choices").addObject()
                            .put("text", new String(c.text, textSent, end - textSent, StandardCharsets.UTF_8))
                            .put("index", 0);
                    if (c.tokenLogprobs != null) {
                        choice.set("logprobs", logprobs(c, sent, sent + 1));
                    } else {
                        choice.putNull("logprobs");
                    }
                    choice.putNull("finish_reason");
                    if (c.request.includeUsage()) {
                        chunk.putNull("usage");
                    }
                    textSent = end;
                    send(sink, chunk);
                }
                if (finish != null) {
                    if (finish == Completion.Finish.FAILED) {
                        send(sink, errorBody(c.failure));
                    } else {
                        ObjectNode chunk = head(id, createdAt);
                        chunk.putArray("choices").addObject()
                                .put("text", new String(c.text, textSent, Math.max(0, c.finalVisibleEnd - textSent), StandardCharsets.UTF_8))
                                .put("index", 0)
                                .putNull("logprobs")
                                .put("finish_reason", finish.openAi);
                        if (c.request.includeUsage()) {
                            chunk.putNull("usage");
                        }
                        send(sink, chunk);
                        if (c.request.includeUsage()) {
                            ObjectNode usage = head(id, createdAt);
                            usage.putArray("choices");
                            usage(usage.putObject("usage"), c);
                            send(sink, usage);
                        }
                    }
                    sink.write(DONE);
                    sink.flush();
                    return;
                }
                c.awaitProgress(sent, WAIT_NANOS);
            }
        } catch (IOException | UncheckedIOException e) {
            c.cancelled = true;   // the client went away: nothing more to write
        } catch (RuntimeException e) {
            c.cancelled = true;
            throw e;
        }
    }

    /**
     * One server-sent event, {@code data: {...}} and a blank line, flushed at once. Written by hand rather than
     * with Helidon's SSE sink, which refuses requests whose Accept header does not name text/event-stream (the
     * OpenAI clients send application/json) and writes "data:" without OpenAI's space.
     */
    private static void send(OutputStream sink, ObjectNode event) throws IOException {
        sink.write(DATA);
        sink.write(JSON.writeValueAsBytes(event));
        sink.write(END_OF_EVENT);
        sink.flush();
    }

    private ObjectNode head(String id, long createdAt) {
        return JSON.createObjectNode()
                .put("id", id)
                .put("object", "text_completion")
                .put("created", createdAt)
                .put("model", modelName);
    }

    private static void usage(ObjectNode usage, Completion c) {
        int prompt = c.request.prompt().length;
        usage.put("prompt_tokens", prompt).put("completion_tokens", c.published).put("total_tokens", prompt + c.published);
    }

    /**
     * OpenAI's logprobs of tokens [from, to): each token's text, its log-probability, the top alternatives (text to
     * log-probability) and the offset of its text in the completion's, in characters.
     */
    private ObjectNode logprobs(Completion c, int from, int to) {
        ObjectNode logprobs = JSON.createObjectNode();
        ArrayNode tokens = logprobs.putArray("tokens");
        ArrayNode tokenLogprobs = logprobs.putArray("token_logprobs");
        ArrayNode top = logprobs.putArray("top_logprobs");
        ArrayNode offsets = logprobs.putArray("text_offset");
        int k = c.request.logprobs();
        for (int i = from; i < to; i++) {
            String token = tokenText(c.tokens[i]);
            tokens.add(token);
            tokenLogprobs.add(c.tokenLogprobs[i]);
            ObjectNode alternatives = top.addObject();
            for (int j = 0; j < k; j++) {
                alternatives.put(tokenText(c.topTokens[i * k + j]), c.topLogprobs[i * k + j]);
            }
            offsets.add(textOffset(c, i));
        }
        return logprobs;
    }

    /**
     * Where token i's text starts in the completion's, in Unicode code points (as Python, where OpenAI's API and
     * clients live, indexes strings: an emoji is one): the length of the text of the tokens before it, complete
     * characters only (a token that ends inside a character adds nothing until the token that completes it). The
     * same whether the completion is streamed or not, and whatever a stop string holds back.
     */
    private static int textOffset(Completion c, int i) {
        if (i == 0) return 0;
        String before = new String(c.text, 0, c.rawEnd[i - 1], StandardCharsets.UTF_8);
        return before.codePointCount(0, before.length());
    }

    /** A token's text; a token that is part of a UTF-8 character is written "bytes:\\xe2\\x80", as OpenAI does. */
    private String tokenText(int token) {
        byte[] bytes = tokenizer.bytes(token);
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            StringBuilder text = new StringBuilder("bytes:");
            for (byte b : bytes) {
                text.append(String.format("\\x%02x", b & 0xFF));
            }
            return text.toString();
        }
    }

    private void json(ServerResponse res, int status, ObjectNode body) {
        metrics.request(status);
        res.status(status);
        res.header(HeaderNames.CONTENT_TYPE, "application/json");
        try {
            res.send(JSON.writeValueAsBytes(body));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private void error(ServerResponse res, ApiException e) {
        json(res, e.status, errorBody(e));
    }

    /** OpenAI's error shape: {"error": {"message", "type", "param", "code"}}, every field present, null if unused. */
    private static ObjectNode errorBody(ApiException e) {
        ObjectNode body = JSON.createObjectNode();
        ObjectNode error = body.putObject("error").put("message", e.getMessage()).put("type", e.type);
        if (e.param != null) error.put("param", e.param); else error.putNull("param");
        if (e.code != null) error.put("code", e.code); else error.putNull("code");
        return body;
    }
}
