package tinyllm.api;

import tinyllm.TinyLlmException;

/**
 * The generation loop: prefill the prompt, then choose a token and feed it back, until the
 * requested number of new tokens. Timings are kept apart for the prompt and for the new tokens.
 */
public final class Generator {

    /** Told of each new token as soon as it is chosen. */
    @FunctionalInterface
    public interface Listener {
        void onToken(int step, int token);
    }

    /** What one generation cost: prompt (prefill) time, and the decode steps that fed new tokens back. */
    public record Timing(long prefillNanos, long decodeNanos, int decodeSteps) {}

    private final TokenChooser chooser;

    public Generator(TokenChooser chooser) {
        this.chooser = chooser;
    }

    public TokenChooser chooser() {
        return chooser;
    }

    /**
     * Feeds {@code prompt} into a fresh position of {@code session} and writes {@code out.length} new tokens
     * into {@code out}. The last new token is not fed back: nothing reads the logits after it, so
     * n new tokens cost one prefill and n - 1 decode steps.
     *
     * @throws TinyLlmException when the prompt is empty or prompt plus new tokens exceed the context
     */
    public Timing generate(Session session, int[] prompt, int[] out, Listener listener) {
        int context = session.config().maxSeqLen();
        if (prompt.length == 0) {
            throw new TinyLlmException("the prompt is empty: give at least one token");
        }
        if (session.position() + prompt.length + out.length > context) {
            throw new TinyLlmException("prompt of " + prompt.length + " tokens + " + out.length
                    + " new tokens exceeds the model's context of " + context + " tokens");
        }
        // Time to the first new token counts as prompt time; each later token costs one decode step.
        // The listener (printing, streaming) is the caller's time and is left out of both.
        int vocab = session.config().vocabSize();
        long start = System.nanoTime();
        session.prefill(prompt, 0, prompt.length);
        int token = out.length == 0 ? -1 : chooser.choose(session.logits(), vocab);
        long prefillNanos = System.nanoTime() - start;
        long decodeNanos = 0;
        for (int step = 0; step < out.length; step++) {
            if (step > 0) {
                long stepStart = System.nanoTime();
                session.append(token);
                token = chooser.choose(session.logits(), vocab);
                decodeNanos += System.nanoTime() - stepStart;
            }
            out[step] = token;
            if (listener != null) {
                listener.onToken(step, token);
            }
        }
        return new Timing(prefillNanos, decodeNanos, Math.max(0, out.length - 1));
    }
}
