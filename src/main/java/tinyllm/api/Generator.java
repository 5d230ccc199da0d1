package tinyllm.api;

import java.util.List;

import tinyllm.TinyLlmException;
import tinyllm.model.GPT2Config;
import tinyllm.tokenizer.GPT2Tokenizer;

/**
 * The generation loop: prefill the prompt, then choose a token and feed it back until a stop
 * condition holds: the requested number of new tokens, GPT-2's end-of-text token, or a stop string in
 * the text. Each new token's text is streamed to a {@link Listener} as complete UTF-8.
 *
 * <p>After construction nothing is allocated per token: the chooser, the text stream and the stop-string
 * matcher work in buffers made here. A generator is used by one thread at a time.
 */
public final class Generator {

    /** Why a generation ended. */
    public enum StopReason {
        /** It produced as many tokens as asked. */
        MAX_TOKENS,
        /** The model chose GPT-2's end-of-text token (not part of the output). */
        END_OF_TEXT,
        /** The text ended with one of the stop strings (which is part of the output). */
        STOP_STRING
    }

    /** Told of each new token as soon as it is chosen, with the text it completes. */
    @FunctionalInterface
    public interface Listener {
        /**
         * @param step   0 for the first new token
         * @param text   a buffer holding the complete UTF-8 this token adds at [0, textLength); reused, so copy
         *               what you keep. A token that is only part of a character adds nothing until the rest comes.
         */
        void onToken(int step, int token, byte[] text, int textLength);
    }

    /**
     * What one generation produced and cost. Prefill time runs to the first new token; each later token
     * costs one decode step. The listener's time is left out of both. The generator keeps one and
     * refills it on every call (so a call allocates nothing): read it before the next call.
     */
    public static final class Result {
        private int newTokens, decodeSteps;
        private StopReason stopReason;
        private long prefillNanos, decodeNanos;

        /** Tokens written to {@code out}. */
        public int newTokens() {
            return newTokens;
        }

        public StopReason stopReason() {
            return stopReason;
        }

        /** Nanoseconds from the start to the first new token: the prompt's prefill and the first choice. */
        public long prefillNanos() {
            return prefillNanos;
        }

        /** Nanoseconds of the decode steps (feeding a token back and choosing the next). */
        public long decodeNanos() {
            return decodeNanos;
        }

        /** Decode steps taken: one fewer than the new tokens. */
        public int decodeSteps() {
            return decodeSteps;
        }
    }

    private final TokenChooser chooser;
    private final TextStream text;
    private final boolean stopAtEndOfText;
    private final StopStrings stops;
    private final byte[] chunk;
    private final Result result = new Result();

    /**
     * @param chooser         greedy, a sampler, or your own
     * @param stopAtEndOfText end when the model chooses token 50256, as GPT-2 does at the end of a document
     * @param stopStrings     end once the text ends with any of these (none: empty list)
     */
    public Generator(TokenChooser chooser, GPT2Tokenizer tokenizer, boolean stopAtEndOfText, List<String> stopStrings) {
        this.chooser = chooser;
        this.text = new TextStream(tokenizer);
        this.stopAtEndOfText = stopAtEndOfText;
        this.stops = new StopStrings(stopStrings);
        this.chunk = new byte[text.maxBytesPerCall()];
    }

    /** Greedy, stopping at end-of-text and at nothing else but the length. */
    public Generator(GPT2Tokenizer tokenizer) {
        this(new Greedy(), tokenizer, true, List.of());
    }

    public TokenChooser chooser() {
        return chooser;
    }

    /**
     * Feeds {@code prompt} at the session's position and writes up to {@code out.length} new tokens into
     * {@code out}. The last new token is not fed back: nothing reads the logits after it. Allocates
     * nothing once warm: the returned {@link Result} is this generator's own, refilled by the next call.
     *
     * @throws TinyLlmException when the prompt is empty, prompt plus new tokens exceed the context, or the
     *                          chooser refuses the logits (NaN or infinite: the message names the step)
     */
    public Result generate(Session session, int[] prompt, int[] out, Listener listener) {
        if (prompt.length == 0) {
            throw new TinyLlmException("the prompt is empty: give at least one token");
        }
        // The one context rule, against what this session holds: it may be smaller than the model's.
        if (!GPT2Config.fits((long) session.position() + prompt.length, Math.max(1, out.length), session.contextLength())) {
            throw new TinyLlmException("prompt of " + prompt.length + " tokens + " + out.length
                    + " new tokens exceeds this session's context of " + session.contextLength() + " tokens"
                    + (session.position() > 0 ? " (" + session.position() + " held already)" : ""));
        }
        text.reset();
        stops.reset();
        int vocab = session.config().vocabSize();
        long start = System.nanoTime();
        session.prefill(prompt, 0, prompt.length);
        int token = out.length == 0 ? -1 : choose(session, vocab, 0);
        long prefillNanos = System.nanoTime() - start;
        long decodeNanos = 0;
        int produced = 0;
        StopReason reason = StopReason.MAX_TOKENS;
        while (produced < out.length) {
            if (produced > 0) {
                long stepStart = System.nanoTime();
                session.append(token);
                token = choose(session, vocab, produced);
                decodeNanos += System.nanoTime() - stepStart;
            }
            if (stopAtEndOfText && token == GPT2Tokenizer.END_OF_TEXT) {
                reason = StopReason.END_OF_TEXT;
                break;
            }
            out[produced] = token;
            int bytes = text.accept(token, chunk, 0);
            if (listener != null) {
                listener.onToken(produced, token, chunk, bytes);
            }
            produced++;
            if (stops.feed(chunk, 0, bytes) >= 0) {
                reason = StopReason.STOP_STRING;
                break;
            }
        }
        if (listener != null) {
            int rest = text.flush(chunk, 0);
            if (rest > 0) {
                listener.onToken(produced, -1, chunk, rest);
            }
        }
        result.newTokens = produced;
        result.stopReason = reason;
        result.prefillNanos = prefillNanos;
        result.decodeNanos = decodeNanos;
        result.decodeSteps = Math.max(0, produced - 1);
        return result;
    }

    /** The chooser's pick for new token {@code step}; a refusal (broken logits) says which step it was. */
    private int choose(Session session, int vocab, int step) {
        try {
            int token = chooser.choose(session.logits(), vocab);
            if (token < 0 || token >= vocab) { // a chooser of the caller's own: its mistake must not become output
                throw new TinyLlmException("the chooser returned token id " + token + ", outside the vocabulary 0.." + (vocab - 1));
            }
            return token;
        } catch (TinyLlmException e) {
            throw new TinyLlmException("step " + (step + 1) + " (after " + session.position() + " tokens): " + e.getMessage(), e);
        }
    }
}
