package tinyllm.checkpoint;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.TinyLlmException;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The one checkpoint writer: whatever stops a write, no partial file stays behind. */
class CheckpointWriterTest {
    static final GPT2Config TINY = new GPT2Config(4, 10, 16, 1, 1, 4, DType.FP32);

    @TempDir
    Path dir;

    @Test
    void aWriteThatFailsHalfwayLeavesNoFile() {
        Path out = dir.resolve("model.bin");
        assertThrows(IllegalStateException.class, () -> {
            try (CheckpointWriter writer = CheckpointWriter.create(out, TINY)) {
                writer.put(1f);
                assertTrue(Files.exists(CheckpointWriter.partialOf(out)), "written to the partial file meanwhile");
                throw new IllegalStateException("the value source failed");
            }
        });
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(CheckpointWriter.partialOf(out)));
    }

    @Test
    void anIncompleteFileIsNeverCommitted() {
        Path out = dir.resolve("model.bin");
        try (CheckpointWriter writer = CheckpointWriter.create(out, TINY)) {
            writer.zeros(TINY.layout().total() - 1);
            assertThrows(IllegalStateException.class, writer::commit);
        }
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(CheckpointWriter.partialOf(out)));
    }

    @Test
    void aCompleteFileOpensAsACheckpoint() throws Exception {
        Path out = dir.resolve("sub/dir/model.bin");
        GPT2Config bf16 = new GPT2Config(4, 10, 16, 1, 1, 4, DType.BF16);
        try (CheckpointWriter writer = CheckpointWriter.create(out, bf16)) {
            writer.zeros(bf16.layout().total());
            writer.commit();
        }
        assertEquals(Checkpoint.HEADER_BYTES + 2 * bf16.layout().total(), Files.size(out));
        assertFalse(Files.exists(CheckpointWriter.partialOf(out)));
    }

    @Test
    void refusesAShapeBeforeCreatingAnything() {
        Path out = dir.resolve("new/model.bin");
        TinyLlmException e = assertThrows(TinyLlmException.class,
                () -> CheckpointWriter.create(out, new GPT2Config(4, 10, 16, 1, 3, 4, DType.FP32)));
        assertEquals("invalid shape for " + out + ": C = 4 channels is not divisible by NH = 3 heads", e.getMessage());
        assertFalse(Files.exists(out.getParent()));
    }

    @Test
    void refusesADirectory() {
        TinyLlmException e = assertThrows(TinyLlmException.class, () -> CheckpointWriter.create(dir, TINY));
        assertEquals("cannot write " + dir + ": it is a directory", e.getMessage());
    }
}
