package tinyllm.api;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.junit.jupiter.api.Test;

import tinyllm.Allocations;
import tinyllm.tokenizer.GPT2Tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Streaming detokenization: whole UTF-8 characters only, the exact bytes of the text in the end. */
class TextStreamTest {
    static final GPT2Tokenizer TOKENIZER = new GPT2Tokenizer();

    static final String CJK = "你好，世界！今天天气很好，我们去公园散步吧。東京は雨です。한국어도 있습니다.";
    static final String MIXED = "Hello, world! 😀 The café served crème brûlée 🍮 at 3 p.m. — "
            + "naïve résumé, 日本語 text, emoji 🎉🚀👩‍👩‍👧 and a flag 🇫🇷.\nNew line\tand tab.";

    final TextStream stream = new TextStream(TOKENIZER);
    final byte[] out = new byte[stream.maxBytesPerCall()];

    static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    static void assertValidUtf8(byte[] bytes, int length, String what) {
        try {
            StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes, 0, length));
        } catch (CharacterCodingException e) {
            fail(what + " is not whole UTF-8 characters: " + e);
        }
    }

    /** Streams the tokens of {@code text} one by one; after every token, all written so far is valid UTF-8. */
    byte[] streamWhole(String text) {
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        int[] tokens = TOKENIZER.encode(text);
        for (int i = 0; i < tokens.length; i++) {
            int n = stream.accept(tokens[i], out, 0);
            assertTrue(n <= stream.maxBytesPerCall());
            written.write(out, 0, n);
            assertValidUtf8(written.toByteArray(), written.size(),
                    "the output after token " + i + " (" + tokens[i] + ")");
        }
        assertEquals(0, stream.flush(out, 0), "valid text leaves nothing pending");
        return written.toByteArray();
    }

    @Test
    void anEmojiSplitOverTwoTokensIsWrittenWhenComplete() {
        assertArrayEquals(new int[] {47249, 222}, TOKENIZER.encode("😀"));
        assertEquals(0, stream.accept(47249, out, 0));
        assertEquals(4, stream.accept(222, out, 0));
        assertArrayEquals(utf8("😀"), Arrays.copyOf(out, 4));
    }

    @Test
    void cjkTextStreamsToItsExactBytes() {
        assertArrayEquals(utf8(CJK), streamWhole(CJK));
    }

    @Test
    void mixedEnglishAndEmojiStreamToTheirExactBytes() {
        assertArrayEquals(utf8(MIXED), streamWhole(MIXED));
    }

    @Test
    void writesAtTheGivenOffset() {
        out[0] = 'x';
        int n = stream.accept(TOKENIZER.encode("Hi")[0], out, 1);
        assertEquals("xHi", new String(out, 0, 1 + n, StandardCharsets.UTF_8));
    }

    @Test
    void flushWritesTheUnfinishedCharacterAndForgetsIt() {
        assertEquals(0, stream.accept(47249, out, 0));
        assertEquals(3, stream.flush(out, 0));
        assertArrayEquals(new byte[] {(byte) 0xF0, (byte) 0x9F, (byte) 0x98}, Arrays.copyOf(out, 3));
        assertEquals(0, stream.flush(out, 0));
    }

    @Test
    void resetForgetsTheUnfinishedCharacter() {
        stream.accept(47249, out, 0);
        stream.reset();
        assertEquals(0, stream.flush(out, 0));
        assertEquals(1, stream.accept(TOKENIZER.encode("a")[0], out, 0));
    }

    @Test
    void idsOutsideTheVocabularyAreWrittenAsPlaceholders() {
        int n = stream.accept(50300, out, 0);
        assertEquals("<|50300|>", new String(out, 0, n, StandardCharsets.US_ASCII));
        for (int id : new int[] {GPT2Tokenizer.VOCAB_SIZE, 50303, -1, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            n = stream.accept(id, out, 0);
            assertArrayEquals(TOKENIZER.bytes(id), Arrays.copyOf(out, n), "id " + id);
        }
    }

    @Test
    void endOfTextIsWrittenAsItsSpecialText() {
        int n = stream.accept(GPT2Tokenizer.END_OF_TEXT, out, 0);
        assertEquals("<|endoftext|>", new String(out, 0, n, StandardCharsets.UTF_8));
    }

    @Test
    void aLeadByteCutOffByOtherTextIsWrittenAsItIs() {
        // F0 9F 98 then "a": the emoji never completes, so its bytes go out with the "a" rather than block.
        stream.accept(47249, out, 0);
        int n = stream.accept(TOKENIZER.encode("a")[0], out, 0);
        assertArrayEquals(new byte[] {(byte) 0xF0, (byte) 0x9F, (byte) 0x98, 'a'}, Arrays.copyOf(out, n));
    }

    @Test
    void aContinuationByteWithNoLeadIsWrittenAtOnce() {
        assertArrayEquals(new byte[] {(byte) 0x80}, TOKENIZER.bytes(222));
        assertEquals(1, stream.accept(222, out, 0));
        assertEquals((byte) 0x80, out[0]);
    }

    @Test
    void noTokenWritesMoreThanMaxBytesPerCall() {
        // The worst case: 3 bytes of an unfinished character pending, then the token.
        for (int token = 0; token < GPT2Tokenizer.VOCAB_SIZE; token++) {
            stream.reset();
            stream.accept(47249, out, 0);
            assertTrue(stream.accept(token, out, 0) <= stream.maxBytesPerCall(), "token " + token);
        }
    }

    @Test
    void acceptAllocatesNothing() {
        int[] tokens = TOKENIZER.encode(MIXED + CJK);
        int[] withPadding = Arrays.copyOf(tokens, tokens.length + 2);
        withPadding[tokens.length] = 50300;
        withPadding[tokens.length + 1] = -7;
        long[] sink = new long[1];
        Runnable window = () -> {
            for (int repeat = 0; repeat < 20; repeat++) {
                for (int token : withPadding) {
                    sink[0] += stream.accept(token, out, 0);
                }
                sink[0] += stream.flush(out, 0);
            }
        };
        assertEquals(0, Allocations.onceWarm("text streaming", window),
                "bytes allocated streaming " + 20 * withPadding.length + " tokens");
    }
}
