package tinyllm.runtime;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import tinyllm.model.DType;
import tinyllm.model.GPT2Config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Attention's items are cut into shares of equal keys, not equal counts (Batch.attentionSplit). */
class AttentionSplitTest {
    private static final int NH = 12;
    private static final GPT2Config CONFIG = new GPT2Config(1024, 61, 64, 1, NH, 48, DType.FP32);
    private final KvCache cache = new KvCache(CONFIG, 1024);

    @AfterEach
    void close() {
        cache.close();
    }

    /** The keys of items [from, to) of the batch: item row * NH + h attends to its row's position + 1 keys. */
    private static long keys(Batch batch, int from, int to) {
        long sum = 0;
        for (int item = from; item < to; item++) sum += batch.positions()[item / NH] + 1;
        return sum;
    }

    /** Every part's keys are the total's share to within one item (a row's position + 1), and the parts tile the items. */
    private static void assertEvenShares(Batch batch, int parts) {
        int items = batch.rows() * NH;
        long total = keys(batch, 0, items), mostPerItem = 0;
        for (int row = 0; row < batch.rows(); row++) mostPerItem = Math.max(mostPerItem, batch.positions()[row] + 1);
        assertEquals(0, batch.attentionSplit(0, parts, NH));
        assertEquals(items, batch.attentionSplit(parts, parts, NH));
        for (int part = 0; part < parts; part++) {
            int from = batch.attentionSplit(part, parts, NH), to = batch.attentionSplit(part + 1, parts, NH);
            assertTrue(from <= to, "parts out of order: " + from + " > " + to);
            long share = keys(batch, from, to);
            assertTrue(Math.abs(share - (double) total / parts) <= mostPerItem,
                    "part " + part + " of " + parts + " has " + share + " of " + total + " keys");
        }
    }

    @Test
    void aLongPromptIsCutIntoEqualKeysNotEqualRows() {
        Batch batch = new Batch(512);
        batch.add(cache, new int[512], 0, 512, 0, true);
        assertEvenShares(batch, 2);
        assertEvenShares(batch, 3);
        // The control: halves of the items, as before, give the second thread about three times the first's keys.
        int half = WorkerPool.split(512 * NH, 1, 2, 1);
        double ratio = (double) keys(batch, half, 512 * NH) / keys(batch, 0, half);
        assertTrue(ratio > 2.9, "halves by count were not uneven: " + ratio);
        int cut = batch.attentionSplit(1, 2, NH);
        assertTrue(cut > half, "the even cut " + cut + " should lie past the middle item " + half);
    }

    @Test
    void oneDecodeRowSplitsItsHeads() {
        Batch batch = new Batch(4);
        batch.add(cache, new int[1], 0, 1, 300, true);
        assertEquals(NH / 2, batch.attentionSplit(1, 2, NH));
        assertEvenShares(batch, 2);
    }

    @Test
    void aBatchOfDecodeRowsAndAPromptChunk() {
        Batch batch = new Batch(64);
        for (int s = 0; s < 15; s++) {
            batch.add(cache, new int[1], 0, 1, 37 * s + 5, true); // runs need not have caches of their own here
        }
        batch.add(cache, new int[20], 0, 20, 100, true);
        assertEvenShares(batch, 2);
        assertEvenShares(batch, 3);
        assertEvenShares(batch, 5);
    }
}
