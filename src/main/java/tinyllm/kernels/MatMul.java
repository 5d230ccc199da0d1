package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import tinyllm.model.DType;
import tinyllm.model.Matrix;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;

/**
 * The linear layers: every weight matrix of the model goes through here, so it sets the speed.
 *
 * <p>Two shapes of work. At decode (one row, or the few rows of a batched step) the weights are read once
 * and the kernel is limited by memory: four weight rows stream together against one input row
 * ({@link #dot4}), and stay in L1 while the other rows of a batch pass by. At
 * prefill (many rows) it is limited by arithmetic, and a GEMM in the GotoBLAS manner keeps the FMA
 * units fed: a panel of {@link #PANEL} output channels by {@link #KC} inputs is packed, transposed,
 * into a small per-thread buffer that stays in L1, then every block of four input rows runs through
 * it with 4 x {@link #PANEL_VECTORS} accumulators in registers ({@link #gemm4}). The mapped weights are
 * never copied beyond that panel.
 *
 * <p>{@link #forward} is the one entry for every encoding of the weights ({@link Matrix#encoding}): fp32 runs
 * here; bf16 ({@link MatMulBf16}) and q8 ({@link MatMulQ8}) have their own decode kernels, and share the GEMM,
 * their weights widened to fp32 while packing.
 */
public final class MatMul {
    /** Output channels a decode pass computes together: each loaded input vector serves this many weight rows. */
    public static final int ROWS = 4;
    /** Input rows a GEMM micro-kernel computes together: each packed weight vector serves this many rows. */
    public static final int GEMM_ROWS = 4;
    /**
     * Fewest input rows for which packing pays. Packing reads and rewrites every weight once per call; below
     * this many rows (a batched decode step, a short prompt) each group of four weight rows is instead read in
     * place and reused from cache for every input row, four rows at a time ({@link #dot4x4}). Measured on the
     * 124M shape, 2 threads (examples/BatchSpeed, one sitting): 64 rows took 160 ms a step that way against 179
     * through the GEMM, 96 rows 211 against 173.
     */
    public static final int GEMM_MIN_ROWS = 80;
    /** Vectors of output channels in one packed panel; with GEMM_ROWS this makes 12 accumulators. */
    public static final int PANEL_VECTORS = 3;
    /** Output channels in one packed panel (48 with 512-bit vectors, 24 with 256-bit). */
    public static final int PANEL = PANEL_VECTORS * Simd.LANES;
    /** Inputs in one packed panel: 24 KB of weights whatever the vector width, so the panel stays in L1. */
    public static final int KC = 6144 / PANEL;

    private MatMul() {}

    /**
     * Floats of scratch one thread needs for {@link #forward} on matrices of rows of at most {@code maxC}: a packed
     * GEMM panel and (q8) its rows widened before packing, or four q8 rows widened to fp32.
     */
    public static int scratchFloats(int maxC) {
        return Math.max(2 * KC * PANEL, ROWS * maxC);
    }

    /** Whether {@link #forward} on {@code weight} with T rows reads {@code inSplit}, which the caller must fill first. */
    public static boolean readsSplitInput(Matrix weight, int T, int OC) {
        return splitsInput(weight.encoding()) && (!packs(T) || OC % PANEL != 0);
    }

    /** Whether matrices in {@code encoding} ever read an input split by {@link MatMulBf16#splitEvenOdd} (bf16's do). */
    public static boolean splitsInput(DType encoding) {
        return encoding == DType.BF16;
    }

    /**
     * How to split output channels among threads: whole panels when the GEMM runs, else groups of four rows.
     */
    public static int channelAlignment(int T) {
        return packs(T) ? PANEL : ROWS;
    }

    /** Whether a product of T input rows packs weight panels (the GEMM) rather than reading the weights in place. */
    public static boolean packs(int T) {
        return T >= GEMM_MIN_ROWS;
    }

    /**
     * out (T,OC) = in (T,C) · weight (OC,C)ᵀ + bias (OC), for output channels [ocFrom, ocTo) only, so
     * threads can split the channels (ocFrom a multiple of {@link #channelAlignment}), whatever the weight's
     * encoding. weight may have more rows than OC (the logits use wte's first V). bias may be null (the logits
     * have none). inSplit: in after {@link MatMulBf16#splitEvenOdd}, if {@link #readsSplitInput} (else unused).
     * scratch: {@link #scratchFloats} floats owned by the calling thread.
     */
    public static void forward(MemorySegment out, MemorySegment in, MemorySegment inSplit, Matrix weight, MemorySegment bias,
                               int T, int C, int OC, int ocFrom, int ocTo, MemorySegment scratch) {
        requireShapes(out, in, inSplit, weight, bias, T, C, OC, ocFrom, ocTo, scratch);
        switch (weight.encoding()) {
            case FP32 -> forward(out, in, weight, bias, T, C, OC, ocFrom, ocTo, scratch);
            case BF16 -> MatMulBf16.forward(out, in, inSplit, weight, bias, T, C, OC, ocFrom, ocTo, scratch);
            case Q8 -> MatMulQ8.forward(out, in, weight, bias, T, C, OC, ocFrom, ocTo, scratch);
        }
    }

    /** {@link #forward}'s arguments hold what its shapes say it reads and writes (see {@link Simd#require}). */
    private static void requireShapes(MemorySegment out, MemorySegment in, MemorySegment inSplit, Matrix weight, MemorySegment bias,
                                      int T, int C, int OC, int ocFrom, int ocTo, MemorySegment scratch) {
        if (weight.cols() != C || weight.rows() < OC || ocFrom < 0 || ocFrom > ocTo || ocTo > OC) {
            throw new IndexOutOfBoundsException("output channels [" + ocFrom + ", " + ocTo + ") of a (" + OC + "," + C
                    + ") product over a (" + weight.rows() + "," + weight.cols() + ") matrix");
        }
        Simd.requireFloats(out, (long) T * OC);
        Simd.requireFloats(in, (long) T * C);
        if (readsSplitInput(weight, T, OC)) Simd.requireFloats(inSplit, (long) T * C);
        if (bias != null) Simd.requireFloats(bias, OC);
        Simd.requireFloats(scratch, scratchFloats(C));
    }

    /** {@link #forward} for fp32 weights. */
    private static void forward(MemorySegment out, MemorySegment in, Matrix matrix, MemorySegment bias,
                                int T, int C, int OC, int ocFrom, int ocTo, MemorySegment packed) {
        MemorySegment weight = matrix.data();
        int o = ocFrom;
        if (packs(T)) {
            for (; o + PANEL <= ocTo; o += PANEL) {
                gemmPanel(out, in, matrix, bias, T, C, OC, o, packed);
            }
        }
        // Decode (of one row, or a batch of rows too few to pack for), and the channels left over when OC
        // is not a whole number of panels. Four weight rows stay in cache while every input row passes by,
        // four rows at a time where there are four (each loaded vector then feeds four FMAs, not one or two)
        // and C is a whole number of vectors (every GPT-2 size; others go row by row, tails and all).
        for (; o + ROWS <= ocTo; o += ROWS) {
            int t = 0;
            for (; t + ROWS <= T && C % F.length() == 0; t += ROWS) {
                dot4x4(out, in, weight, o, bias, t, C, OC, o);
            }
            for (; t < T; t++) {
                dot4(out, in, weight, o, bias, t, C, OC, o);
            }
        }
        for (; o < ocTo; o++) {
            for (int t = 0; t < T; t++) {
                dot1(out, in, weight, bias, t, C, OC, o);
            }
        }
    }

    /**
     * out[0..T, o..o+PANEL) through packed panels of KC inputs at a time; later panels add to what earlier
     * ones wrote. bf16 and q8 weights are widened while packing, so the micro-kernels only ever see fp32.
     */
    static void gemmPanel(MemorySegment out, MemorySegment in, Matrix weight, MemorySegment bias,
                          int T, int C, int OC, int o, MemorySegment packed) {
        for (int k0 = 0; k0 < C; k0 += KC) {
            int kc = Math.min(KC, C - k0);
            switch (weight.encoding()) {
                case FP32 -> pack(packed, weight.data(), o, k0, kc, C);
                case BF16 -> packBf16(packed, weight.data(), o, k0, kc, C);
                case Q8 -> packQ8(packed, weight, o, k0, kc, C);
            }
            boolean first = k0 == 0;
            int t = 0;
            for (; t + GEMM_ROWS <= T; t += GEMM_ROWS) {
                gemm4(out, in, packed, bias, t, o, k0, kc, C, OC, first);
            }
            for (; t < T; t++) {
                gemm1(out, in, packed, bias, t, o, k0, kc, C, OC, first);
            }
        }
    }

    /** packed (kc, PANEL) = weight[o..o+PANEL, k0..k0+kc)ᵀ: one row of packed holds one input's weight for every channel. */
    private static void pack(MemorySegment packed, MemorySegment weight, int o, int k0, int kc, int C) {
        for (int c = 0; c < PANEL; c++) {
            long row = ((long) (o + c) * C + k0) * Float.BYTES;
            for (int k = 0; k < kc; k++) {
                packed.set(FLOAT, ((long) k * PANEL + c) * Float.BYTES, weight.get(FLOAT, row + (long) k * Float.BYTES));
            }
        }
    }

    /** As {@link #pack}, from bf16 weights: each value widened to fp32 (its bits shifted into the high half). */
    private static void packBf16(MemorySegment packed, MemorySegment weight, int o, int k0, int kc, int C) {
        for (int c = 0; c < PANEL; c++) {
            long row = (long) (o + c) * C + k0;
            for (int k = 0; k < kc; k++) {
                packed.set(FLOAT, ((long) k * PANEL + c) * Float.BYTES, Simd.bf16(weight, row + k));
            }
        }
    }

    /**
     * As {@link #pack}, from q8 weights: each value its int8 times its block's scale. The panel's rows are first
     * widened a vector at a time into the second half of the scratch, in place of the mapped rows, then transposed
     * as fp32 packing transposes; element by element where a vector would straddle two blocks.
     */
    private static void packQ8(MemorySegment scratch, Matrix weight, int o, int k0, int kc, int C) {
        MemorySegment q = weight.data(), scales = weight.scales();
        int block = weight.block(), blocks = C / block, L = F.length();
        if (block % L != 0 || kc % L != 0) {
            for (int c = 0; c < PANEL; c++) {
                for (int k = 0; k < kc; k++) {
                    scratch.setAtIndex(FLOAT, (long) k * PANEL + c, weight.get(o + c, k0 + k));
                }
            }
            return;
        }
        long rows = (long) KC * PANEL; // the widened rows (PANEL, kc), after the packed panel
        for (int c = 0; c < PANEL; c++) {
            long row = (long) (o + c) * C;
            for (int k = 0; k < kc; k += L) { // widened in place, not by a helper: see MatMulQ8.dot4
                FloatVector scale = FloatVector.broadcast(F, scales.getAtIndex(FLOAT, (long) (o + c) * blocks + (k0 + k) / block));
                ((FloatVector) ByteVector.fromMemorySegment(Simd.Q, q, row + k0 + k, LE).convertShape(VectorOperators.B2F, F, 0)).mul(scale).intoMemorySegment(scratch, (rows + (long) c * kc + k) * Float.BYTES, LE);
            }
        }
        for (int c = 0; c < PANEL; c++) {
            for (int k = 0; k < kc; k++) {
                scratch.setAtIndex(FLOAT, (long) k * PANEL + c, scratch.getAtIndex(FLOAT, rows + (long) c * kc + k));
            }
        }
    }

    /** Where an accumulator starts: the bias on the first panel of inputs (or zero), else what earlier panels summed. */
    private static FloatVector start(MemorySegment out, MemorySegment bias, long outAt, long biasAt, boolean first) {
        if (!first) return FloatVector.fromMemorySegment(F, out, outAt, LE);
        return bias == null ? FloatVector.zero(F) : FloatVector.fromMemorySegment(F, bias, biasAt, LE);
    }

    /** out[t..t+4, o..o+PANEL) += in[t..t+4, k0..k0+kc) · packed: 4 rows x 3 vectors of accumulators. */
    private static void gemm4(MemorySegment out, MemorySegment in, MemorySegment packed, MemorySegment bias,
                              int t, int o, int k0, int kc, int C, int OC, boolean first) {
        long v = (long) F.length() * Float.BYTES;
        long x0 = ((long) t * C + k0) * Float.BYTES, x1 = x0 + (long) C * Float.BYTES,
                x2 = x1 + (long) C * Float.BYTES, x3 = x2 + (long) C * Float.BYTES;
        long y0 = ((long) t * OC + o) * Float.BYTES, y1 = y0 + (long) OC * Float.BYTES,
                y2 = y1 + (long) OC * Float.BYTES, y3 = y2 + (long) OC * Float.BYTES;
        long b = (long) o * Float.BYTES;
        if (first && bias != null) Simd.faultable(bias, b); // start() loads the bias; kept tiny so it inlines (no boxed vectors)
        FloatVector c00 = start(out, bias, y0, b, first), c01 = start(out, bias, y0 + v, b + v, first), c02 = start(out, bias, y0 + 2 * v, b + 2 * v, first);
        FloatVector c10 = start(out, bias, y1, b, first), c11 = start(out, bias, y1 + v, b + v, first), c12 = start(out, bias, y1 + 2 * v, b + 2 * v, first);
        FloatVector c20 = start(out, bias, y2, b, first), c21 = start(out, bias, y2 + v, b + v, first), c22 = start(out, bias, y2 + 2 * v, b + 2 * v, first);
        FloatVector c30 = start(out, bias, y3, b, first), c31 = start(out, bias, y3 + v, b + v, first), c32 = start(out, bias, y3 + 2 * v, b + 2 * v, first);
        for (int k = 0; k < kc; k++) {
            long p = (long) k * PANEL * Float.BYTES, xk = (long) k * Float.BYTES;
            FloatVector w0 = FloatVector.fromMemorySegment(F, packed, p, LE);
            FloatVector w1 = FloatVector.fromMemorySegment(F, packed, p + v, LE);
            FloatVector w2 = FloatVector.fromMemorySegment(F, packed, p + 2 * v, LE);
            FloatVector a = FloatVector.broadcast(F, in.get(FLOAT, x0 + xk));
            c00 = w0.fma(a, c00); c01 = w1.fma(a, c01); c02 = w2.fma(a, c02);
            a = FloatVector.broadcast(F, in.get(FLOAT, x1 + xk));
            c10 = w0.fma(a, c10); c11 = w1.fma(a, c11); c12 = w2.fma(a, c12);
            a = FloatVector.broadcast(F, in.get(FLOAT, x2 + xk));
            c20 = w0.fma(a, c20); c21 = w1.fma(a, c21); c22 = w2.fma(a, c22);
            a = FloatVector.broadcast(F, in.get(FLOAT, x3 + xk));
            c30 = w0.fma(a, c30); c31 = w1.fma(a, c31); c32 = w2.fma(a, c32);
        }
        c00.intoMemorySegment(out, y0, LE); c01.intoMemorySegment(out, y0 + v, LE); c02.intoMemorySegment(out, y0 + 2 * v, LE);
        c10.intoMemorySegment(out, y1, LE); c11.intoMemorySegment(out, y1 + v, LE); c12.intoMemorySegment(out, y1 + 2 * v, LE);
        c20.intoMemorySegment(out, y2, LE); c21.intoMemorySegment(out, y2 + v, LE); c22.intoMemorySegment(out, y2 + 2 * v, LE);
        c30.intoMemorySegment(out, y3, LE); c31.intoMemorySegment(out, y3 + v, LE); c32.intoMemorySegment(out, y3 + 2 * v, LE);
    }

    /** One row through the packed panel: the rows left over when T is not a multiple of four. */
    private static void gemm1(MemorySegment out, MemorySegment in, MemorySegment packed, MemorySegment bias,
                              int t, int o, int k0, int kc, int C, int OC, boolean first) {
        long v = (long) F.length() * Float.BYTES;
        long x = ((long) t * C + k0) * Float.BYTES, y = ((long) t * OC + o) * Float.BYTES, b = (long) o * Float.BYTES;
        if (first && bias != null) Simd.faultable(bias, b);
        FloatVector c0 = start(out, bias, y, b, first), c1 = start(out, bias, y + v, b + v, first), c2 = start(out, bias, y + 2 * v, b + 2 * v, first);
        for (int k = 0; k < kc; k++) {
            long p = (long) k * PANEL * Float.BYTES;
            FloatVector a = FloatVector.broadcast(F, in.get(FLOAT, x + (long) k * Float.BYTES));
            c0 = FloatVector.fromMemorySegment(F, packed, p, LE).fma(a, c0);
            c1 = FloatVector.fromMemorySegment(F, packed, p + v, LE).fma(a, c1);
            c2 = FloatVector.fromMemorySegment(F, packed, p + 2 * v, LE).fma(a, c2);
        }
        c0.intoMemorySegment(out, y, LE);
        c1.intoMemorySegment(out, y + v, LE);
        c2.intoMemorySegment(out, y + 2 * v, LE);
    }

    /** out[t, o..o+3] = in[t] · weight[wo..wo+3] + bias[o..o+3]. */
    static void dot4(MemorySegment out, MemorySegment in, MemorySegment weight, int wo, MemorySegment bias,
                     int t, int C, int OC, int o) {
        long x = (long) t * C * Float.BYTES;
        long w0 = (long) wo * C * Float.BYTES, w1 = w0 + (long) C * Float.BYTES,
                w2 = w1 + (long) C * Float.BYTES, w3 = w2 + (long) C * Float.BYTES;
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F), b1 = FloatVector.zero(F), b2 = FloatVector.zero(F), b3 = FloatVector.zero(F);
        int step = F.length();
        int upper2 = C - C % (2 * step);
        int i = 0;
        for (; i < upper2; i += 2 * step) {
            long e = (long) i * Float.BYTES, f = e + (long) step * Float.BYTES;
            FloatVector xe = FloatVector.fromMemorySegment(F, in, x + e, LE);
            FloatVector xf = FloatVector.fromMemorySegment(F, in, x + f, LE);
            a0 = FloatVector.fromMemorySegment(F, weight, w0 + e, LE).fma(xe, a0);
            a1 = FloatVector.fromMemorySegment(F, weight, w1 + e, LE).fma(xe, a1);
            a2 = FloatVector.fromMemorySegment(F, weight, w2 + e, LE).fma(xe, a2);
            a3 = FloatVector.fromMemorySegment(F, weight, w3 + e, LE).fma(xe, a3);
            b0 = FloatVector.fromMemorySegment(F, weight, w0 + f, LE).fma(xf, b0);
            b1 = FloatVector.fromMemorySegment(F, weight, w1 + f, LE).fma(xf, b1);
            b2 = FloatVector.fromMemorySegment(F, weight, w2 + f, LE).fma(xf, b2);
            b3 = FloatVector.fromMemorySegment(F, weight, w3 + f, LE).fma(xf, b3);
        }
        for (; i < F.loopBound(C); i += step) {
            long e = (long) i * Float.BYTES;
            FloatVector xe = FloatVector.fromMemorySegment(F, in, x + e, LE);
            a0 = FloatVector.fromMemorySegment(F, weight, w0 + e, LE).fma(xe, a0);
            a1 = FloatVector.fromMemorySegment(F, weight, w1 + e, LE).fma(xe, a1);
            a2 = FloatVector.fromMemorySegment(F, weight, w2 + e, LE).fma(xe, a2);
            a3 = FloatVector.fromMemorySegment(F, weight, w3 + e, LE).fma(xe, a3);
        }
        float s0 = a0.add(b0).reduceLanes(VectorOperators.ADD), s1 = a1.add(b1).reduceLanes(VectorOperators.ADD);
        float s2 = a2.add(b2).reduceLanes(VectorOperators.ADD), s3 = a3.add(b3).reduceLanes(VectorOperators.ADD);
        for (; i < C; i++) {
            long e = (long) i * Float.BYTES;
            float xi = in.get(FLOAT, x + e);
            s0 += weight.get(FLOAT, w0 + e) * xi;
            s1 += weight.get(FLOAT, w1 + e) * xi;
            s2 += weight.get(FLOAT, w2 + e) * xi;
            s3 += weight.get(FLOAT, w3 + e) * xi;
        }
        store4(out, bias, t, OC, o, s0, s1, s2, s3);
    }

    /**
     * out[t..t+3, o..o+3] = in[t..t+3] · weight[wo..wo+3] + bias[o..o+3]: sixteen dot products at once, four
     * input rows by four weight rows, sixteen accumulators; each step loads four weight and four input
     * vectors for sixteen FMAs, so a batch of rows runs at the FMA units' pace, not the loads'. C must be a
     * multiple of the vector length: no scalar tail, since sixteen of them made the method too big for C2,
     * which then left the Vector API calls in it un-inlined, allocating a box per vector.
     */
    static void dot4x4(MemorySegment out, MemorySegment in, MemorySegment weight, int wo, MemorySegment bias,
                               int t, int C, int OC, int o) {
        long row = (long) C * Float.BYTES;
        long x0 = (long) t * row, x1 = x0 + row, x2 = x1 + row, x3 = x2 + row;
        long w0 = (long) wo * row, w1 = w0 + row, w2 = w1 + row, w3 = w2 + row;
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F), a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F), a33 = FloatVector.zero(F);
        int upper = F.loopBound(C);
        for (int i = 0; i < upper; i += F.length()) {
            long e = (long) i * Float.BYTES;
            FloatVector v0 = FloatVector.fromMemorySegment(F, weight, w0 + e, LE);
            FloatVector v1 = FloatVector.fromMemorySegment(F, weight, w1 + e, LE);
            FloatVector v2 = FloatVector.fromMemorySegment(F, weight, w2 + e, LE);
            FloatVector v3 = FloatVector.fromMemorySegment(F, weight, w3 + e, LE);
            FloatVector x = FloatVector.fromMemorySegment(F, in, x0 + e, LE);
            a00 = v0.fma(x, a00); a01 = v1.fma(x, a01); a02 = v2.fma(x, a02); a03 = v3.fma(x, a03);
            x = FloatVector.fromMemorySegment(F, in, x1 + e, LE);
            a10 = v0.fma(x, a10); a11 = v1.fma(x, a11); a12 = v2.fma(x, a12); a13 = v3.fma(x, a13);
            x = FloatVector.fromMemorySegment(F, in, x2 + e, LE);
            a20 = v0.fma(x, a20); a21 = v1.fma(x, a21); a22 = v2.fma(x, a22); a23 = v3.fma(x, a23);
            x = FloatVector.fromMemorySegment(F, in, x3 + e, LE);
            a30 = v0.fma(x, a30); a31 = v1.fma(x, a31); a32 = v2.fma(x, a32); a33 = v3.fma(x, a33);
        }
        store4(out, bias, t, OC, o,
                a00.reduceLanes(VectorOperators.ADD),
                a01.reduceLanes(VectorOperators.ADD),
                a02.reduceLanes(VectorOperators.ADD),
                a03.reduceLanes(VectorOperators.ADD));
        store4(out, bias, t + 1, OC, o,
                a10.reduceLanes(VectorOperators.ADD),
                a11.reduceLanes(VectorOperators.ADD),
                a12.reduceLanes(VectorOperators.ADD),
                a13.reduceLanes(VectorOperators.ADD));
        store4(out, bias, t + 2, OC, o,
                a20.reduceLanes(VectorOperators.ADD),
                a21.reduceLanes(VectorOperators.ADD),
                a22.reduceLanes(VectorOperators.ADD),
                a23.reduceLanes(VectorOperators.ADD));
        store4(out, bias, t + 3, OC, o,
                a30.reduceLanes(VectorOperators.ADD),
                a31.reduceLanes(VectorOperators.ADD),
                a32.reduceLanes(VectorOperators.ADD),
                a33.reduceLanes(VectorOperators.ADD));
    }

    /** out[t, o..o+3] = s0..s3 + bias[o..o+3] (bias may be null): the end of every four-row dot product. */
    static void store4(MemorySegment out, MemorySegment bias, int t, int OC, int o, float s0, float s1, float s2, float s3) {
        if (bias != null) {
            long b = (long) o * Float.BYTES;
            s0 += bias.get(FLOAT, b);
            s1 += bias.get(FLOAT, b + Float.BYTES);
            s2 += bias.get(FLOAT, b + 2 * Float.BYTES);
            s3 += bias.get(FLOAT, b + 3 * Float.BYTES);
        }
        long y = ((long) t * OC + o) * Float.BYTES;
        out.set(FLOAT, y, s0);
        out.set(FLOAT, y + Float.BYTES, s1);
        out.set(FLOAT, y + 2 * Float.BYTES, s2);
        out.set(FLOAT, y + 3 * Float.BYTES, s3);
    }

    /** out[t, o] = in[t] · weight[o] + bias[o]: the rows left over when OC is not a multiple of four. */
    private static void dot1(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias,
                             int t, int C, int OC, int o) {
        long x = (long) t * C * Float.BYTES;
        long w = (long) o * C * Float.BYTES;
        FloatVector a = FloatVector.zero(F);
        int i = 0;
        for (; i < F.loopBound(C); i += F.length()) {
            long e = (long) i * Float.BYTES;
            a = FloatVector.fromMemorySegment(F, weight, w + e, LE).fma(FloatVector.fromMemorySegment(F, in, x + e, LE), a);
        }
        float s = a.reduceLanes(VectorOperators.ADD);
        for (; i < C; i++) {
            long e = (long) i * Float.BYTES;
            s += weight.get(FLOAT, w + e) * in.get(FLOAT, x + e);
        }
        if (bias != null) {
            s += bias.get(FLOAT, (long) o * Float.BYTES);
        }
        out.set(FLOAT, ((long) t * OC + o) * Float.BYTES, s);
    }
}
