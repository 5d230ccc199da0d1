package tinyllm.tokenizer;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class GPT2TokenizerTest {
    final GPT2Tokenizer tokenizer = new GPT2Tokenizer();

    @Test
    void encodesLikeGpt2() {
        assertArrayEquals(new int[] {7454, 2402, 257, 640}, tokenizer.encode("Once upon a time"));
    }

    @Test
    void endOfTextInAPromptIsOrdinaryText() {
        int[] ids = tokenizer.encode("a<|endoftext|>b");
        for (int id : ids) {
            assertEquals(false, id == GPT2Tokenizer.END_OF_TEXT, "special token from typed text");
        }
        assertEquals("a<|endoftext|>b", tokenizer.decode(ids));
    }

    @Test
    void displayEscapesControlCharactersAndQuotes() {
        assertEquals("\\n", tokenizer.display(198));   // GPT-2's newline token
        assertEquals(",", tokenizer.display(11));
        assertEquals("\\'s", tokenizer.display(338));  // 's
    }

    @Test
    void displayShowsHalfACharacterAsBytes() {
        // 😀 is two tokens; neither alone is valid UTF-8.
        int[] ids = tokenizer.encode("😀");
        assertEquals(2, ids.length);
        assertEquals("\\xF0\\x9F\\x98", tokenizer.display(ids[0]));
        assertEquals("😀", tokenizer.decode(ids));
    }

    @Test
    void paddedVocabularyIdsDoNotThrow() {
        assertEquals("<|50300|>", tokenizer.display(50300));
    }
}
