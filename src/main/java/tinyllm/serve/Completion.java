package tinyllm.serve;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import tinyllm.api.Greedy;
import tinyllm.api.Sampler;
import tinyllm.api.Sequence;
import tinyllm.api.StopStrings;
import tinyllm.api.TextStream;
import tinyllm.api.TokenChooser;
import tinyllm.tokenizer.GPT2Tokenizer;

import static tinyllm.kernels.Simd.FLOAT;

/**
 * One request on its way through the scheduler, and the outbox through which its tokens reach the HTTP thread
 * that serves it.
 *
 * <p>The engine thread alone writes the tokens, their text and log-probabilities, into arrays sized for max_tokens
 * when the request is made, then publishes them by raising {@link #published} (a volatile write, so the HTTP
 * thread that reads it sees the arrays filled) and unparks that thread. Emitting a token allocates nothing.
 *
 * <p>Text: the bytes of the new tokens, complete UTF-8 as {@link TextStream} gives them. When there are stop
 * strings, the bytes that might begin one are held back ({@link #visibleEnd} stays behind), because a stop string
 * is not part of OpenAI's output: the text ends where it starts.
 */
final class Completion {
    enum Finish {
        STOP("stop"), LENGTH("length"), CANCELLED(null), FAILED(null);

        final String openAi;

        Finish(String openAi) {
            this.openAi = openAi;
        }
    }

    final CompletionRequest request;
    final long arrivalNanos = System.nanoTime();
    final long seed;

    // Engine thread only.
    final TokenChooser chooser;
    private final TextStream textStream;
    private final StopStrings stops;
    private final int[] penaltyCounts;     // per token id, only when a penalty is on
    private final int[] distinctTokens;    // the ids counted so far, for applying the penalties
    private int distinct;
    Sequence sequence;
    int promptFed;
    long lastTokenNanos;
    private int rawBytes;

    // Written by the engine before published is raised; read by the HTTP thread after.
    final int[] tokens;
    final int[] textEnd;                   // visible text bytes after token i
    final int[] rawEnd;                    // all text bytes after token i (visible or held back)
    final byte[] text;
    final float[] tokenLogprobs;           // logprobs >= 0: the chosen token's, per token
    final int[] topTokens;                 // logprobs > 0: [token * logprobs + j], most likely first
    final float[] topLogprobs;
    volatile int published;
    private volatile Finish finish;
    volatile int finalVisibleEnd;
    volatile ApiException failure;

    // Set by the HTTP thread.
    volatile boolean cancelled;
    private volatile Thread waiter;

    Completion(CompletionRequest request, GPT2Tokenizer tokenizer, int vocabSize, long defaultSeed) {
        this.request = request;
        this.seed = request.seed() != null ? request.seed() : defaultSeed;
        this.chooser = request.temperature() == 0 ? new Greedy()
                : new Sampler(vocabSize, request.temperature(), request.topK(), request.topP(), seed);
        this.textStream = new TextStream(tokenizer);
        this.stops = new StopStrings(request.stops());
        boolean penalties = request.frequencyPenalty() != 0 || request.presencePenalty() != 0;
        this.penaltyCounts = penalties ? new int[vocabSize] : null;
        this.distinctTokens = penalties ? new int[request.maxTokens()] : null;
        int n = request.maxTokens();
        this.tokens = new int[n];
        this.textEnd = new int[n];
        this.rawEnd = new int[n];
        this.text = new byte[n * textStream.maxBytesPerCall() + textStream.maxBytesPerCall()];
        int k = Math.max(0, request.logprobs());
        this.tokenLogprobs = request.logprobs() >= 0 ? new float[n] : null;
        this.topTokens = new int[n * k];
        this.topLogprobs = new float[n * k];
    }

    boolean prefilled() {
        return promptFed == request.prompt().length;
    }

    boolean penalized() {
        return penaltyCounts != null;
    }

    /**
     * logits[t] -= frequency_penalty * count(t) + presence_penalty * (count(t) > 0), over the tokens generated so far,
     * as OpenAI defines them; {@code logits} is the engine's writable copy.
     */
    void applyPenalties(MemorySegment logits) {
        for (int i = 0; i < distinct; i++) {
            int t = distinctTokens[i];
            long at = (long) t * Float.BYTES;
            logits.set(FLOAT, at, logits.get(FLOAT, at) - request.frequencyPenalty() * penaltyCounts[t] - request.presencePenalty());
        }
    }

    /**
     * Takes the token the engine chose (its logprobs already written at index {@link #published}) and publishes it.
     * End-of-text ends the completion without being part of it.
     *
     * @return true if the completion is now finished
     */
    boolean accept(int token, long now) {
        lastTokenNanos = now;
        if (token == GPT2Tokenizer.END_OF_TEXT && !request.ignoreEos()) {
            finish(Finish.STOP, rawBytes + textStream.flush(text, rawBytes));
            return true;
        }
        int i = published;
        if (penaltyCounts != null && penaltyCounts[token]++ == 0) {
            distinctTokens[distinct++] = token;
        }
        int before = rawBytes;
        int bytes = textStream.accept(token, text, rawBytes);
        rawBytes += bytes;
        tokens[i] = token;
        rawEnd[i] = rawBytes;
        int stopAt = stops.feed(text, before, bytes);
        if (stopAt >= 0) {
            int visible = before + stopAt - stops.matchedLength();
            textEnd[i] = visible;
            publish(i + 1);
            finish(Finish.STOP, visible);
            return true;
        }
        textEnd[i] = rawBytes - stops.pendingPrefix();
        if (i + 1 == tokens.length) {
            rawBytes += textStream.flush(text, rawBytes);
            publish(i + 1);
            finish(Finish.LENGTH, rawBytes);
            return true;
        }
        publish(i + 1);
        return false;
    }

    private void publish(int count) {
        published = count;
        Thread t = waiter;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /** Ends the completion; the HTTP thread sends text up to {@code visibleEnd}. */
    void finish(Finish reason, int visibleEnd) {
        if (finish != null) {
            return;
        }
        finalVisibleEnd = visibleEnd;
        finish = reason;
        Thread t = waiter;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /** Ends the completion with {@code error}: the HTTP thread answers it (or, mid-stream, sends it as an event). */
    void fail(ApiException error) {
        failure = error;
        finish(Finish.FAILED, 0);
    }

    Finish finished() {
        return finish;
    }

    /**
     * Waits (on the HTTP thread) until more than {@code seen} tokens are published or the completion is finished,
     * at most {@code timeoutNanos}.
     */
    void awaitProgress(int seen, long timeoutNanos) {
        waiter = Thread.currentThread();
        long deadline = System.nanoTime() + timeoutNanos;
        while (published <= seen && finish == null) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            LockSupport.parkNanos(this, Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
        }
    }
}
