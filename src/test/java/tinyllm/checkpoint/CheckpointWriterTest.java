package tinyllm.checkpoint;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import tinyllm.TinyLlmException;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;
import tinyllm.model.Int8Blocks;
import tinyllm.model.ParameterLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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

    /**
     * The q8 layout, rebuilt independently: the header's block after Vp; each matrix (wte, wpe, then each layer's)
     * as its int8 elements in file order followed by one fp32 scale per block; every other tensor fp32.
     */
    @Test
    void q8StoresEachMatrixsElementsThenItsScalesAndTheRestInFp32() throws Exception {
        GPT2Config q8 = new GPT2Config(4, 10, 16, 2, 1, 8, DType.Q8);
        assertEquals(8, q8.block(), "the largest power of two up to 32 dividing C");
        Path out = dir.resolve("q8.bin");
        ParameterLayout layout = q8.layout();
        float[] values = new float[(int) layout.total()];
        for (int i = 0; i < values.length; i++) values[i] = ((i * 7919) % 255 - 127) / 50f;
        try (CheckpointWriter writer = CheckpointWriter.create(out, q8)) {
            for (float v : values) writer.put(v);
            writer.commit();
        }
        ByteBuffer expected = ByteBuffer.allocate((int) (Checkpoint.HEADER_BYTES + layout.bytes())).order(ByteOrder.LITTLE_ENDIAN);
        for (int field : Checkpoint.header(q8)) expected.putInt(field);
        for (int tensor = 0; tensor < ParameterLayout.NAMES.length; tensor++) {
            int from = (int) layout.offsets()[tensor], n = (int) layout.sizes()[tensor];
            if (!ParameterLayout.isMatrix(tensor)) {
                for (int i = from; i < from + n; i++) expected.putFloat(values[i]);
                continue;
            }
            int matrices = tensor == ParameterLayout.WTE || tensor == ParameterLayout.WPE ? 1 : q8.layers();
            for (int m = 0, size = n / matrices; m < matrices; m++) {
                int start = from + m * size;
                for (int i = start; i < start + size; i++) {
                    expected.put(Int8Blocks.quantize(values[i], Int8Blocks.scale(values, i - (i - start) % 8, 8)));
                }
                for (int b = start; b < start + size; b += 8) expected.putFloat(Int8Blocks.scale(values, b, 8));
            }
        }
        assertArrayEquals(expected.array(), Files.readAllBytes(out));
        assertEquals(8, ByteBuffer.wrap(Files.readAllBytes(out)).order(ByteOrder.LITTLE_ENDIAN).getInt(8 * 4), "block after Vp");
    }

    @Test
    void writingMoreValuesThanTheShapeHoldsIsRefused() {
        Path out = dir.resolve("model.bin");
        try (CheckpointWriter writer = CheckpointWriter.create(out, TINY)) {
            writer.zeros(TINY.layout().total());
            assertThrows(IllegalStateException.class, () -> writer.put(1f));
        }
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
