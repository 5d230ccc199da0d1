package tinyllm.serve;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

import tinyllm.TinyLlmException;
import tinyllm.api.BatchRunner;
import tinyllm.api.Model;
import tinyllm.runtime.Buffers;
import tinyllm.runtime.Forward;
import tinyllm.runtime.KvCache;
import tinyllm.api.Sequence;
import tinyllm.kernels.Softmax;

import static tinyllm.kernels.Simd.FLOAT;

/**
 * Continuous batching: one engine thread owns the model's {@link BatchRunner} and, step after step,
 * <ol>
 *   <li>retires the requests that finished or were cancelled (their slots are free for this step),</li>
 *   <li>admits waiting requests while a sequence slot is free and the step's row budget has room,</li>
 *   <li>queues one decode row for every request past its prompt, then prompt rows, oldest request first, up to
 *       the row budget (chunked prefill: a long prompt takes several steps, and running streams get a token in
 *       each of them),</li>
 *   <li>runs the step: one forward pass over all those rows,</li>
 *   <li>chooses each request's next token with its own chooser (greedy or its seeded sampler), after its
 *       frequency and presence penalties, with log-probabilities if asked, and hands it to the request.</li>
 * </ol>
 * Requests wait in a bounded queue; {@link #submit} refuses at once when it is full. Nothing on the engine thread
 * allocates per step (the sampler, the text stream, the outboxes and this loop work in buffers made per request or
 * here); the metrics it records are Micrometer's.
 */
final class Scheduler implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Scheduler.class.getName());

    private final BatchRunner runner;
    private final int vocabSize;
    private final ArrayBlockingQueue<Completion> waiting;
    private final Sequence[] freeSlots;
    private int freeCount;
    private final Completion[] active;   // holding a slot, in order of admission
    private int activeCount;
    private final boolean[] wantsToken;  // per active index: its add() in this step asked for logits
    private final int[] rowsAdded;
    private final ServerMetrics metrics;
    private final Thread engine;
    private volatile boolean accepting = true;
    private volatile boolean stopping;
    private volatile int runningCount;
    private volatile Semaphore stepPermits;

    // The logits a chooser reads when penalties change them, and the softmax work of the logprobs.
    private final Arena arena = Arena.ofShared();
    private final MemorySegment adjustedLogits;
    private final float[] weights;
    private final MemorySegment weightsSegment; // the softmax kernel's output, copied into weights
    private final double[] total = new double[1];

    /**
     * @param maxBatch  sequence slots: requests running at once
     * @param maxQueue  requests that may wait for a slot
     * @param stepRows  row budget of one step (at least maxBatch, so every running request gets its token)
     */
    Scheduler(Model model, int maxBatch, int maxQueue, int stepRows, ServerMetrics metrics) {
        if (maxBatch < 1 || maxQueue < 1 || stepRows < maxBatch) {
            throw new TinyLlmException("the server needs --max-batch >= 1, --max-queue >= 1 and --step-tokens >= --max-batch, got "
                    + maxBatch + ", " + maxQueue + ", " + stepRows);
        }
        this.vocabSize = model.config().vocabSize();
        // Checked together before either is allocated: each alone could pass while both do not fit.
        long slotBytes = KvCache.bytes(model.config(), model.config().maxSeqLen());
        Buffers.requireMemory(maxBatch * slotBytes + Forward.activationBytes(model.config(), stepRows, maxBatch),
                "the KV caches of " + maxBatch + " sequence slots (--max-batch, " + slotBytes / 1000
                        + " KB each) and the activations of a step of " + stepRows + " rows (--step-tokens)");
        this.runner = model.newBatchRunner(stepRows, maxBatch); // one row of logits per running sequence
        this.waiting = new ArrayBlockingQueue<>(maxQueue);
        this.freeSlots = new Sequence[maxBatch];
        for (int i = 0; i < maxBatch; i++) {
            freeSlots[freeCount++] = runner.newSequence(model.config().maxSeqLen());
        }
        this.active = new Completion[maxBatch];
        this.wantsToken = new boolean[maxBatch];
        this.rowsAdded = new int[maxBatch];
        this.adjustedLogits = arena.allocate((long) vocabSize * Float.BYTES, 64);
        this.weights = new float[vocabSize];
        this.weightsSegment = arena.allocate((long) vocabSize * Float.BYTES, 64); // native, as every kernel's segment (see Sampler)
        this.metrics = metrics;
        metrics.watch(waiting::size, () -> runningCount);
        this.engine = Thread.ofPlatform().name("tinyllm-engine").daemon().unstarted(this::run);
        engine.start();
    }

    ServerMetrics metrics() {
        return metrics;
    }

    int running() {
        return runningCount;
    }

    int queued() {
        return waiting.size();
    }

    /**
     * Queues a request for a slot.
     *
     * @throws ApiException 503 once shutting down, 429 when the queue is full
     */
    void submit(Completion completion) {
        if (!accepting) {
            throw shuttingDown();
        }
        if (!waiting.offer(completion)) {
            throw new ApiException(429, "rate_limit_exceeded", null, "queue_full",
                    "the server is busy: " + active.length + " requests running and " + waiting.size() + " waiting; retry later");
        }
    }

    static ApiException shuttingDown() {
        return new ApiException(503, "server_error", null, "shutting_down", "the server is shutting down and takes no new requests");
    }

    /** Stops admitting new requests (503); those already queued or running go on. */
    void stopAccepting() {
        accepting = false;
    }

    boolean accepting() {
        return accepting;
    }

    /** True once nothing is queued or running. */
    boolean idle() {
        return waiting.isEmpty() && runningCount == 0;
    }

    /** Tests pace the engine: with permits set, each step waits for one. */
    void paceSteps(Semaphore permits) {
        stepPermits = permits;
    }

    private void run() {
        while (!stopping) {
            try {
                step();
            } catch (InterruptedException e) {
                return;
            } catch (Throwable e) {
                // The engine must outlive any one failure: fail what ran in this step, keep serving.
                LOG.log(Level.SEVERE, "engine step failed", e);
                failActive(e);
                if (runner.queuedRows() > 0) {
                    try {
                        runner.step();   // drains a half-queued step, so that the next one starts empty
                    } catch (Throwable again) {
                        LOG.log(Level.SEVERE, "engine could not drain its step", again);
                    }
                }
            }
        }
        // 503 shutting_down, as for requests that arrive now: the client may retry elsewhere or later.
        failActive(stopped("the server stopped before this request finished"));
        for (Completion c; (c = waiting.poll()) != null; ) {
            c.fail(stopped("the server stopped before this request started"));
        }
    }

    private void step() throws InterruptedException {
        retire();
        if (activeCount == 0) {
            Completion next = waiting.poll(50, TimeUnit.MILLISECONDS);
            if (next == null) {
                return;
            }
            admit(next);
        }
        // Admit while a slot is free and this step's rows (a decode row per running request, the rest of each
        // prompt) leave room in the budget.
        long wanted = 0;
        for (int i = 0; i < activeCount; i++) {
            wanted += active[i].prefilled() ? 1 : active[i].request.prompt().length - active[i].promptFed;
        }
        while (freeCount > 0 && wanted < runner.maxRows()) {
            Completion next = waiting.poll();
            if (next == null) {
                break;
            }
            if (admit(next)) {
                wanted += next.request.prompt().length;
            }
        }
        Semaphore permits = stepPermits;
        if (permits != null) {
            permits.acquire();
            retire();
        }
        if (activeCount == 0) {
            return;
        }
        queueRows();
        long start = System.nanoTime();
        runner.step();
        long now = System.nanoTime();
        ServerMetrics.record(metrics.stepDuration, now - start);
        for (int i = 0; i < activeCount; i++) {
            Completion c = active[i];
            if (!c.prefilled()) {
                c.promptFed += rowsAdded[i];
            }
            if (wantsToken[i]) {
                emit(c, now);
            }
        }
    }

    /** Decode rows first, one per request past its prompt; then prompt chunks, oldest first, within the budget. */
    private void queueRows() {
        int budget = runner.maxRows();
        for (int i = 0; i < activeCount; i++) {
            Completion c = active[i];
            wantsToken[i] = false;
            rowsAdded[i] = 0;
            if (c.prefilled()) {
                runner.add(c.sequence, c.tokens, c.published - 1, 1, true);
                wantsToken[i] = true;
                rowsAdded[i] = 1;
                budget--;
            }
        }
        for (int i = 0; i < activeCount && budget > 0; i++) {
            Completion c = active[i];
            if (!c.prefilled()) {
                int rows = Math.min(budget, c.request.prompt().length - c.promptFed);
                boolean last = c.promptFed + rows == c.request.prompt().length;
                runner.add(c.sequence, c.request.prompt(), c.promptFed, rows, last);
                wantsToken[i] = last;
                rowsAdded[i] = rows;
                budget -= rows;
            }
        }
    }

    /** Chooses, scores and hands over the next token of {@code c}; a failure ends only this request. */
    private void emit(Completion c, long now) {
        try {
            MemorySegment logits = runner.logits(c.sequence);
            if (c.penalized()) {
                MemorySegment.copy(logits, 0, adjustedLogits, 0, (long) vocabSize * Float.BYTES);
                c.applyPenalties(adjustedLogits);
                logits = adjustedLogits;
            }
            int token = c.chooser.choose(logits, vocabSize);
            if (c.tokenLogprobs != null) {
                logprobs(c, logits, token);
            }
            boolean first = c.published == 0;
            ServerMetrics.record(first ? metrics.timeToFirstToken : metrics.interTokenLatency,
                    now - (first ? c.arrivalNanos : c.lastTokenNanos));
            int before = c.published;
            c.accept(token, now);
            metrics.generatedTokens.increment(c.published - before);
        } catch (RuntimeException e) {
            c.fail(engineFailure(e instanceof TinyLlmException ? e.getMessage() : "unexpected " + e));
        }
    }

    /**
     * The chosen token's log-probability and the top alternatives', under the model's distribution after the
     * penalties (before temperature and filters, as OpenAI reports them): log softmax = logit - max - log(sum).
     */
    private void logprobs(Completion c, MemorySegment logits, int token) {
        float max = Softmax.weights(logits, vocabSize, 1f, weightsSegment, total);
        MemorySegment.copy(weightsSegment, FLOAT, 0, weights, 0, vocabSize);
        float logTotal = (float) Math.log(total[0]);
        int i = c.published;
        c.tokenLogprobs[i] = logits.get(FLOAT, (long) token * Float.BYTES) - max - logTotal;
        int k = c.request.logprobs();
        int base = i * k;
        // The k largest weights by insertion into a short sorted list: k <= 5, and most weights fail the first test.
        int kept = 0;
        for (int t = 0; t < vocabSize; t++) {
            float w = weights[t];
            if (kept == k && (k == 0 || w <= c.topLogprobs[base + k - 1])) {
                continue;
            }
            int j = kept < k ? kept++ : k - 1;
            while (j > 0 && c.topLogprobs[base + j - 1] < w) {
                c.topLogprobs[base + j] = c.topLogprobs[base + j - 1];
                c.topTokens[base + j] = c.topTokens[base + j - 1];
                j--;
            }
            c.topLogprobs[base + j] = w;
            c.topTokens[base + j] = t;
        }
        for (int j = 0; j < k; j++) {
            c.topLogprobs[base + j] = (float) Math.log(c.topLogprobs[base + j]) - logTotal;
        }
    }

    /** Takes {@code c} into a free slot; false if it was cancelled while it waited. */
    private boolean admit(Completion c) {
        if (c.cancelled) {
            c.finish(Completion.Finish.CANCELLED, 0);
            return false;
        }
        Sequence slot = freeSlots[--freeCount];
        slot.reset();
        c.sequence = slot;
        active[activeCount++] = c;
        runningCount = activeCount;
        metrics.promptTokens.increment(c.request.prompt().length);
        return true;
    }

    /** Frees the slots of finished and cancelled requests at once, keeping the others in admission order. */
    private void retire() {
        int kept = 0;
        for (int i = 0; i < activeCount; i++) {
            Completion c = active[i];
            if (c.cancelled && c.finished() == null) {
                c.finish(Completion.Finish.CANCELLED, 0);
            }
            if (c.finished() != null) {
                freeSlots[freeCount++] = c.sequence;
                c.sequence = null;
            } else {
                active[kept++] = c;
            }
        }
        for (int i = kept; i < activeCount; i++) {
            active[i] = null;
        }
        activeCount = kept;
        runningCount = kept;
    }

    private void failActive(Throwable e) {
        failActive(engineFailure(e instanceof TinyLlmException ? e.getMessage() : "the engine failed: " + e));
    }

    private void failActive(ApiException error) {
        for (int i = 0; i < activeCount; i++) {
            active[i].fail(error);
        }
        retire();
    }

    private static ApiException engineFailure(String message) {
        return new ApiException(500, "server_error", null, null, message);
    }

    private static ApiException stopped(String message) {
        return new ApiException(503, "server_error", null, "shutting_down", message);
    }

    /** Stops the engine thread; requests still queued or running fail. Then frees the slots. */
    @Override
    public void close() {
        stopping = true;
        Semaphore permits = stepPermits;
        if (permits != null) {
            permits.release(Integer.MAX_VALUE / 2);
        }
        try {
            engine.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (int i = 0; i < freeCount; i++) {
            freeSlots[i].close();
        }
        runner.close();
        arena.close();
    }
}
