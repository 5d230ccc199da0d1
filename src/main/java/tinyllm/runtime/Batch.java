package tinyllm.runtime;

import java.util.Arrays;

/**
 * The rows of one forward pass: a flat list of (token, position) rows from any number of sequences,
 * decode rows of running sequences and prompt rows of new ones alike. The rows of one sequence are
 * consecutive and at consecutive positions (a run); each run names the KV cache its rows attend over
 * and whether the logits after its last row are wanted. Filled by the caller, read by {@link Forward},
 * cleared for the next step; nothing is allocated after construction.
 */
public final class Batch {
    private final int[] tokens;     // per row
    private final int[] positions;  // per row
    private final KvCache[] caches; // per run
    private final int[] firstRow;   // per run
    private final int[] rowCount;   // per run
    private final int[] logitRow;   // per logits row: the row of the batch whose next-token logits are computed
    private int rows, runs, logits;

    public Batch(int maxRows) {
        this.tokens = new int[maxRows];
        this.positions = new int[maxRows];
        this.caches = new KvCache[maxRows];
        this.firstRow = new int[maxRows];
        this.rowCount = new int[maxRows];
        this.logitRow = new int[maxRows];
    }

    public int maxRows() {
        return tokens.length;
    }

    /** Rows queued so far. */
    public int rows() {
        return rows;
    }

    /**
     * Queues tokens[from .. from+count) of one sequence at positions [pos0, pos0 + count) of {@code cache}.
     * Ids, positions and the row budget are checked by the caller.
     *
     * @return the index of this run's row of logits (the logits after its last row), or -1 if not wanted
     */
    public int add(KvCache cache, int[] tokens, int from, int count, int pos0, boolean wantLogits) {
        if (count < 1 || rows + count > this.tokens.length || pos0 + count > cache.capacity()) {
            throw new IllegalStateException("bad run of " + count + " rows at position " + pos0 + " for a batch holding "
                    + rows + " of " + this.tokens.length + " rows and a cache of " + cache.capacity());
        }
        System.arraycopy(tokens, from, this.tokens, rows, count);
        for (int t = 0; t < count; t++) {
            positions[rows + t] = pos0 + t;
        }
        caches[runs] = cache;
        firstRow[runs] = rows;
        rowCount[runs] = count;
        runs++;
        rows += count;
        if (!wantLogits) {
            return -1;
        }
        logitRow[logits] = rows - 1;
        return logits++;
    }

    /** Empties the batch for the next step. */
    public void clear() {
        Arrays.fill(caches, 0, runs, null); // hold no closed cache past its step
        rows = 0;
        runs = 0;
        logits = 0;
    }

    int[] tokens() {
        return tokens;
    }

    int[] positions() {
        return positions;
    }

    int runs() {
        return runs;
    }

    KvCache cache(int run) {
        return caches[run];
    }

    int firstRow(int run) {
        return firstRow[run];
    }

    int rowCount(int run) {
        return rowCount[run];
    }

    /** Position of the run's first row. */
    int startPosition(int run) {
        return positions[firstRow[run]];
    }

    /**
     * Where part {@code part} of {@code parts} starts when attention's (row, head) items, numbered
     * row * NH + head, are cut into parts of equal work. A row attends to its position + 1 keys, so equal
     * item counts are not equal work: a 512-row prompt cut into halves of rows gave the second thread three
     * times the first's keys. Parts here hold equal numbers of (item, key) pairs, to within one item.
     */
    int attentionSplit(int part, int parts, int NH) {
        if (part <= 0) return 0;
        if (part >= parts) return rows * NH;
        long total = 0;
        for (int r = 0; r < runs; r++) total += NH * keys(r, rowCount[r]);
        long target = total * part / parts, before = 0;
        for (int r = 0; r < runs; r++) {
            long run = NH * keys(r, rowCount[r]);
            if (before + run > target) {
                int t = 0; // rows of this run wholly before the cut
                while (before + NH * keys(r, t + 1) <= target) t++;
                long perHead = startPosition(r) + t + 1;
                long heads = (target - before - NH * keys(r, t) + perHead - 1) / perHead;
                return (firstRow[r] + t) * NH + (int) heads;
            }
            before += run;
        }
        return rows * NH;
    }

    /** Keys the first n rows of run r attend to, per head: the rows at positions s .. s+n-1 see s+1 .. s+n keys. */
    private long keys(int run, int n) {
        long s = startPosition(run);
        return n * s + (long) n * (n + 1) / 2;
    }

    /** Rows whose logits the forward computes. */
    public int logitRows() {
        return logits;
    }

    int logitRow(int index) {
        return logitRow[index];
    }
}
