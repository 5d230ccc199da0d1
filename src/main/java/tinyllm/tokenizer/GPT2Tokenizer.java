package tinyllm.tokenizer;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;

/**
 * GPT-2's byte-level BPE (OpenAI's r50k_base), through JTokkit.
 *
 * <p>Text is encoded as ordinary text: "&lt;|endoftext|&gt;" typed in a prompt is not turned into the
 * special token. Ids at or above {@link #VOCAB_SIZE} (a checkpoint's padding rows, or a model with a
 * bigger vocabulary) have no text; they are shown as {@code <|id|>} rather than failing.
 */
public final class GPT2Tokenizer {
    public static final int VOCAB_SIZE = 50257;
    public static final int END_OF_TEXT = 50256;

    private final Encoding encoding = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
    private Vocabulary vocabulary;

    /**
     * Every token's bytes, flat: token t is {@code bytes[offsets[t] .. offsets[t + 1])}; {@code longest} is
     * the longest token's length. For streaming text without a call into the BPE library per token.
     */
    public record Vocabulary(byte[] bytes, int[] offsets, int longest) {}

    /** The bytes of all {@link #VOCAB_SIZE} tokens, looked up once (a fraction of a second) and then shared. */
    public synchronized Vocabulary vocabulary() {
        if (vocabulary == null) {
            byte[][] each = new byte[VOCAB_SIZE][];
            int[] offsets = new int[VOCAB_SIZE + 1];
            int longest = 0;
            for (int token = 0; token < VOCAB_SIZE; token++) {
                each[token] = bytes(token);
                offsets[token + 1] = offsets[token] + each[token].length;
                longest = Math.max(longest, each[token].length);
            }
            byte[] flat = new byte[offsets[VOCAB_SIZE]];
            for (int token = 0; token < VOCAB_SIZE; token++) {
                System.arraycopy(each[token], 0, flat, offsets[token], each[token].length);
            }
            vocabulary = new Vocabulary(flat, offsets, longest);
        }
        return vocabulary;
    }

    public int[] encode(String text) {
        return encoding.encodeOrdinary(text).toArray();
    }

    /** The bytes of one token: a token may hold part of a UTF-8 character, so this is not always text. */
    public byte[] bytes(int token) {
        if (token < 0 || token >= VOCAB_SIZE) {
            return ("<|" + token + "|>").getBytes(StandardCharsets.UTF_8);
        }
        IntArrayList one = new IntArrayList(1);
        one.add(token);
        return encoding.decodeBytes(one);
    }

    /** The text of a sequence of tokens; bytes that do not form valid UTF-8 become U+FFFD. */
    public String decode(int[] tokens) {
        ByteBuffer all = ByteBuffer.allocate(tokens.length * 16 + 16);
        for (int token : tokens) {
            byte[] b = bytes(token);
            if (all.remaining() < b.length) {
                all = ByteBuffer.allocate(all.capacity() * 2 + b.length).put(all.flip());
            }
            all.put(b);
        }
        return new String(all.array(), 0, all.position(), StandardCharsets.UTF_8);
    }

    /**
     * One token shown for a human on one line, as in {@code Step 1: Generated token 11 → ','}: newlines,
     * tabs and other control characters escaped, and bytes that are not complete UTF-8 as {@code \xNN}.
     */
    public String display(int token) {
        byte[] b = bytes(token);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            StringBuilder hex = new StringBuilder();
            for (byte x : b) {
                int u = x & 0xFF;
                if (u >= 0x20 && u < 0x7F && u != '\\' && u != '\'') hex.append((char) u);
                else hex.append(String.format("\\x%02X", u));
            }
            return hex.toString();
        }
        return escape(text);
    }

    static String escape(String text) {
        StringBuilder s = new StringBuilder(text.length());
        text.codePoints().forEach(c -> {
            switch (c) {
                case '\n' -> s.append("\\n");
                case '\r' -> s.append("\\r");
                case '\t' -> s.append("\\t");
                case '\\' -> s.append("\\\\");
                case '\'' -> s.append("\\'");
                default -> {
                    if (Character.isISOControl(c) || Character.getType(c) == Character.FORMAT) {
                        s.append(String.format("\\u%04X", c));
                    } else {
                        s.appendCodePoint(c);
                    }
                }
            }
        });
        return s.toString();
    }
}
