package tinyllm.api;

import tinyllm.tokenizer.GPT2Tokenizer;

import static tinyllm.tokenizer.GPT2Tokenizer.VOCAB_SIZE;

/**
 * Turns tokens into UTF-8 bytes as they are generated, writing only whole characters: a token may end
 * inside a character (😀 is two GPT-2 tokens, 3 bytes + 1), and the bytes of a half character wait for the
 * next token. Every token's bytes are looked up once, in the constructor; {@link #accept} and
 * {@link #flush} then allocate nothing.
 *
 * <p>Ids outside GPT-2's vocabulary (a checkpoint's padding rows, another model's tokens) are written as
 * {@code <|id|>}, as {@link GPT2Tokenizer#bytes} shows them.
 *
 * <p>Invalid UTF-8 does not stall the stream: a byte that cannot start a character (a continuation byte with
 * no lead, 0xC0, 0xC1, 0xF5..0xFF), and a lead byte followed by a byte that does not continue it, are written
 * as they are, at once. Only a lead byte followed by continuation bytes so far, at the very end of what was
 * received, waits: at most 3 bytes. What the receiver makes of invalid bytes (U+FFFD, usually) is its choice.
 * Lead bytes are checked only for how many continuation bytes they announce, not for overlong or surrogate
 * forms, which are invalid as a whole and written as they are once complete.
 */
public final class TextStream {
    /** {@code <|-2147483648|>}, the longest an id outside the vocabulary can be written. */
    private static final int MAX_PLACEHOLDER_BYTES = 15;

    // Token t's bytes are vocabBytes[vocabOffsets[t] .. vocabOffsets[t + 1]).
    private final byte[] vocabBytes;
    private final int[] vocabOffsets;
    private final int maxBytesPerCall;
    // Received but not written: between calls, at most the 3 bytes of an unfinished character.
    private final byte[] pending;
    private int pendingLength;

    /** Uses the tokenizer's table of every token's bytes (built on the tokenizer's first use, then shared). */
    public TextStream(GPT2Tokenizer tokenizer) {
        GPT2Tokenizer.Vocabulary vocabulary = tokenizer.vocabulary();
        vocabBytes = vocabulary.bytes();
        vocabOffsets = vocabulary.offsets();
        maxBytesPerCall = Math.max(MAX_PLACEHOLDER_BYTES, vocabulary.longest()) + 3;
        pending = new byte[maxBytesPerCall];
    }

    /**
     * The most bytes one {@link #accept} or {@link #flush} writes: the longest token plus the 3 bytes an
     * unfinished character may have left pending. Size {@code out} to this once.
     */
    public int maxBytesPerCall() {
        return maxBytesPerCall;
    }

    /**
     * Takes the next token and writes to {@code out[offset..]} every byte that is now part of a whole
     * character (or invalid, see the class comment); the bytes of a character not finished yet are kept.
     *
     * @param out must have room for {@link #maxBytesPerCall()} bytes from {@code offset}
     * @return how many bytes were written, 0 when the token only started a character
     */
    public int accept(int token, byte[] out, int offset) {
        if (token >= 0 && token < VOCAB_SIZE) {
            int start = vocabOffsets[token];
            int length = vocabOffsets[token + 1] - start;
            System.arraycopy(vocabBytes, start, pending, pendingLength, length);
            pendingLength += length;
        } else {
            appendPlaceholder(token);
        }
        int complete = completeLength();
        System.arraycopy(pending, 0, out, offset, complete);
        System.arraycopy(pending, complete, pending, 0, pendingLength - complete);
        pendingLength -= complete;
        return complete;
    }

    /**
     * Writes the bytes still pending, an unfinished character at the end of generation, as they are, and
     * forgets them.
     *
     * @param out must have room for 3 bytes from {@code offset}
     * @return how many bytes were written, 0 to 3
     */
    public int flush(byte[] out, int offset) {
        int length = pendingLength;
        System.arraycopy(pending, 0, out, offset, length);
        pendingLength = 0;
        return length;
    }

    /** Forgets the bytes pending, for a new text. */
    public void reset() {
        pendingLength = 0;
    }

    /** Writes {@code <|token|>} in ASCII after the pending bytes. */
    private void appendPlaceholder(int token) {
        pending[pendingLength++] = '<';
        pending[pendingLength++] = '|';
        long value = token;   // long: -Integer.MIN_VALUE is not an int
        if (value < 0) {
            pending[pendingLength++] = '-';
            value = -value;
        }
        int digits = 1;
        for (long rest = value / 10; rest > 0; rest /= 10) {
            digits++;
        }
        for (int i = pendingLength + digits - 1; i >= pendingLength; i--) {
            pending[i] = (byte) ('0' + value % 10);
            value /= 10;
        }
        pendingLength += digits;
        pending[pendingLength++] = '|';
        pending[pendingLength++] = '>';
    }

    /** How many leading pending bytes can be written: all but a character cut short by the end. */
    private int completeLength() {
        int i = 0;
        while (i < pendingLength) {
            int last = i + continuationBytes(pending[i]);
            int end = i + 1;
            while (end <= last && end < pendingLength && isContinuation(pending[end])) {
                end++;
            }
            if (end <= last && end == pendingLength) {
                return i;   // a character still arriving: wait for the next token
            }
            i = end;        // a whole character, or an invalid sequence written as it is
        }
        return pendingLength;
    }

    /** How many continuation bytes a byte announces: 0 for ASCII and for bytes that cannot start a character. */
    private static int continuationBytes(byte b) {
        int u = b & 0xFF;
        if (u >= 0xC2 && u <= 0xDF) return 1;
        if (u >= 0xE0 && u <= 0xEF) return 2;
        if (u >= 0xF0 && u <= 0xF4) return 3;
        return 0;
    }

    private static boolean isContinuation(byte b) {
        return (b & 0xC0) == 0x80;
    }
}
