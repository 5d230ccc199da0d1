package tinyllm.api;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.Fixtures;
import tinyllm.checkpoint.SyntheticCheckpoint;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * bf16 with C = 132, as GPT-2 medium and up, has matrices whose output channels are no whole number of GEMM
 * panels: their leftover channels take the decode kernels, on inputs split into even and odd elements. A
 * prompt of 300 rows splits them on both threads; its last logits must be those of feeding it token by token
 * (one row, split on the caller).
 */
class LongBf16PromptTest {
    @TempDir
    Path dir;

    @Test
    void aLongPromptGivesTheLogitsOfItsTokensFedOneByOne() {
        Path file = dir.resolve("bf16.bin");
        SyntheticCheckpoint.write(file, new GPT2Config(512, 1000, 1024, 2, 4, 132, DType.BF16), 3);
        int[] prompt = new int[300];
        for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 37 + 5) % 1000;
        try (Model model = Model.open(file, 2); Session whole = model.newSession(); Session byToken = model.newSession()) {
            whole.prefill(prompt, 0, prompt.length);
            for (int i = 0; i < prompt.length; i++) {
                byToken.prefill(prompt, i, 1);
            }
            float diff = Fixtures.maxAbsDiff(whole.logits().toArray(ValueLayout.JAVA_FLOAT), byToken.logits().toArray(ValueLayout.JAVA_FLOAT));
            assertTrue(diff < Fixtures.LOGIT_TOLERANCE, "max |whole prompt - token by token| = " + diff);
        }
    }
}
