package tinyllm.kernels;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

import tinyllm.model.DType;
import tinyllm.model.Matrix;

import static tinyllm.kernels.Simd.F;
import static tinyllm.kernels.Simd.FLOAT;
import static tinyllm.kernels.Simd.LE;
import static tinyllm.kernels.Simd.at;
import static tinyllm.kernels.Simd.bf16At;

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
     * GEMM panel and (bf16, q8) its rows widened before packing, or four q8 rows widened to fp32.
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
        // A batch of rows too few to pack for, and the channels left over when OC is not a whole number of
        // panels. Four weight rows stay in cache while every input row passes by, four rows at a time where
        // there are four (each loaded vector then feeds four FMAs, not one or two) and C is a whole number of
        // vectors (every GPT-2 size; others go row by row, tails and all).
        // Decode (fewer than four rows) reads each weight row front to back on its own, below: memory, not the
        // FMAs, bounds it, and one stream of loads goes faster than four (one thread over the mapped 124M
        // checkpoint: 25.8 GB/s against 15.2 for four rows side by side; C with AVX-512: 29.3 against 16.5; whole
        // decode steps alternating in one JVM, 2 threads: 16.2 against 17.8 ms, 1 thread: 21.3 against 31.4 ms).
        for (; T >= ROWS && o + ROWS <= ocTo; o += ROWS) {
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
     * out[0..T, o..o+PANEL) through packed panels of KC inputs at a time, each adding to the bias (or zero) that
     * {@link #startRows} put there first. bf16 and q8 weights are widened while packing, so the micro-kernels only
     * ever see fp32.
     */
    static void gemmPanel(MemorySegment out, MemorySegment in, Matrix weight, MemorySegment bias,
                          int T, int C, int OC, int o, MemorySegment packed) {
        startRows(out, bias, T, OC, o);
        long widened = (long) KC * PANEL; // where bf16 and q8 rows are widened to fp32, after the packed panel
        for (int k0 = 0; k0 < C; k0 += KC) {
            int kc = Math.min(KC, C - k0);
            switch (weight.encoding()) {
                case FP32 -> transpose(packed, weight.data(), (long) o * C + k0, C, kc);
                case BF16 -> {
                    widenBf16(packed, widened, weight.data(), o, k0, kc, C);
                    transpose(packed, packed, widened, kc, kc);
                }
                case Q8 -> {
                    widenQ8(packed, widened, weight, o, k0, kc, C);
                    transpose(packed, packed, widened, kc, kc);
                }
            }
            int t = 0;
            for (; t + GEMM_ROWS <= T; t += GEMM_ROWS) {
                gemm4(out, in, packed, t, o, k0, kc, C, OC);
            }
            for (; t < T; t++) {
                gemm1(out, in, packed, t, o, k0, kc, C, OC);
            }
        }
    }

    /**
     * out[0..T, o..o+PANEL) = bias[o..o+PANEL), or 0 without a bias: where the micro-kernels' accumulators start,
     * so that they only ever load and store out (a helper choosing the start vector, bias or sum so far, was left
     * out of line when the panel's method grew, and boxed every accumulator).
     */
    private static void startRows(MemorySegment out, MemorySegment bias, int T, int OC, int o) {
        for (int t = 0; t < T; t++) {
            long y = (long) t * OC + o;
            if (bias != null) {
                Simd.copy(bias, o, out, y, PANEL);
            } else {
                for (int j = 0; j < PANEL; j += F.length()) {
                    FloatVector.zero(F).intoMemorySegment(out, at(y + j), LE);
                }
            }
        }
    }

    /**
     * packed (kc, PANEL) = rows (PANEL, kc)ᵀ, row c of rows starting at element {@code first + c * stride} of
     * {@code source}: one row of packed holds one input's weight for every channel. The one packing loop of every
     * encoding: fp32 transposes straight from the mapped weights, bf16 and q8 from their rows widened first.
     */
    private static void transpose(MemorySegment packed, MemorySegment source, long first, long stride, int kc) {
        for (int c = 0; c < PANEL; c++) {
            long row = first + c * stride;
            for (int k = 0; k < kc; k++) {
                packed.setAtIndex(FLOAT, (long) k * PANEL + c, source.getAtIndex(FLOAT, row + k));
            }
        }
    }

    /**
     * scratch[widened + c * kc + k] = weight[o + c, k0 + k] as fp32, for the PANEL rows of a bf16 panel: a bf16 is
     * the high half of an fp32, so each vector of shorts is sign-extended to ints and shifted into place.
     */
    private static void widenBf16(MemorySegment scratch, long widened, MemorySegment weight, int o, int k0, int kc, int C) {
        int L = F.length();
        Simd.faultable(weight, bf16At((long) o * C + k0)); // vector loads from the mapping: see Simd.faultable
        for (int c = 0; c < PANEL; c++) {
            long row = (long) (o + c) * C + k0, to = widened + (long) c * kc;
            int k = 0;
            for (; k + L <= kc; k += L) { // widened in place, not by a helper: see MatMulQ8.dot
                ((IntVector) ShortVector.fromMemorySegment(Simd.S, weight, bf16At(row + k), LE).convertShape(VectorOperators.S2I, Simd.I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoMemorySegment(scratch, at(to + k), LE);
            }
            for (; k < kc; k++) {
                scratch.setAtIndex(FLOAT, to + k, Simd.bf16(weight, row + k));
            }
        }
    }

    /**
     * scratch[widened + c * kc + k] = weight[o + c, k0 + k] as fp32, for the PANEL rows of a q8 panel: each value
     * its int8 times its block's scale, a vector at a time; element by element where a vector would straddle two
     * blocks.
     */
    private static void widenQ8(MemorySegment scratch, long widened, Matrix weight, int o, int k0, int kc, int C) {
        MemorySegment q = weight.data(), scales = weight.scales();
        int block = weight.block(), blocks = C / block, L = F.length();
        boolean vectors = block % L == 0 && kc % L == 0;
        for (int c = 0; c < PANEL; c++) {
            long row = (long) (o + c) * C, to = widened + (long) c * kc;
            if (!vectors) {
                for (int k = 0; k < kc; k++) {
                    scratch.setAtIndex(FLOAT, to + k, weight.get(o + c, k0 + k));
                }
                continue;
            }
            for (int k = 0; k < kc; k += L) { // widened in place, not by a helper: see MatMulQ8.dot
                FloatVector scale = FloatVector.broadcast(F, scales.getAtIndex(FLOAT, (long) (o + c) * blocks + (k0 + k) / block));
                ((FloatVector) ByteVector.fromMemorySegment(Simd.Q, q, row + k0 + k, LE).convertShape(VectorOperators.B2F, F, 0))
                        .mul(scale).intoMemorySegment(scratch, at(to + k), LE);
            }
        }
    }

    /** out[t..t+4, o..o+PANEL) += in[t..t+4, k0..k0+kc) · packed: 4 rows x 3 vectors of accumulators. */
    private static void gemm4(MemorySegment out, MemorySegment in, MemorySegment packed,
                              int t, int o, int k0, int kc, int C, int OC) {
        int v = F.length();
        long x0 = (long) t * C + k0, x1 = x0 + C, x2 = x1 + C, x3 = x2 + C;
        long y0 = (long) t * OC + o, y1 = y0 + OC, y2 = y1 + OC, y3 = y2 + OC;
        FloatVector c00 = FloatVector.fromMemorySegment(F, out, at(y0), LE), c01 = FloatVector.fromMemorySegment(F, out, at(y0 + v), LE),
                c02 = FloatVector.fromMemorySegment(F, out, at(y0 + 2 * v), LE);
        FloatVector c10 = FloatVector.fromMemorySegment(F, out, at(y1), LE), c11 = FloatVector.fromMemorySegment(F, out, at(y1 + v), LE),
                c12 = FloatVector.fromMemorySegment(F, out, at(y1 + 2 * v), LE);
        FloatVector c20 = FloatVector.fromMemorySegment(F, out, at(y2), LE), c21 = FloatVector.fromMemorySegment(F, out, at(y2 + v), LE),
                c22 = FloatVector.fromMemorySegment(F, out, at(y2 + 2 * v), LE);
        FloatVector c30 = FloatVector.fromMemorySegment(F, out, at(y3), LE), c31 = FloatVector.fromMemorySegment(F, out, at(y3 + v), LE),
                c32 = FloatVector.fromMemorySegment(F, out, at(y3 + 2 * v), LE);
        for (int k = 0; k < kc; k++) {
            long p = (long) k * PANEL;
            FloatVector w0 = FloatVector.fromMemorySegment(F, packed, at(p), LE);
            FloatVector w1 = FloatVector.fromMemorySegment(F, packed, at(p + v), LE);
            FloatVector w2 = FloatVector.fromMemorySegment(F, packed, at(p + 2 * v), LE);
            FloatVector a = FloatVector.broadcast(F, in.getAtIndex(FLOAT, x0 + k));
            c00 = w0.fma(a, c00); c01 = w1.fma(a, c01); c02 = w2.fma(a, c02);
            a = FloatVector.broadcast(F, in.getAtIndex(FLOAT, x1 + k));
            c10 = w0.fma(a, c10); c11 = w1.fma(a, c11); c12 = w2.fma(a, c12);
            a = FloatVector.broadcast(F, in.getAtIndex(FLOAT, x2 + k));
            c20 = w0.fma(a, c20); c21 = w1.fma(a, c21); c22 = w2.fma(a, c22);
            a = FloatVector.broadcast(F, in.getAtIndex(FLOAT, x3 + k));
            c30 = w0.fma(a, c30); c31 = w1.fma(a, c31); c32 = w2.fma(a, c32);
        }
        c00.intoMemorySegment(out, at(y0), LE); c01.intoMemorySegment(out, at(y0 + v), LE); c02.intoMemorySegment(out, at(y0 + 2 * v), LE);
        c10.intoMemorySegment(out, at(y1), LE); c11.intoMemorySegment(out, at(y1 + v), LE); c12.intoMemorySegment(out, at(y1 + 2 * v), LE);
        c20.intoMemorySegment(out, at(y2), LE); c21.intoMemorySegment(out, at(y2 + v), LE); c22.intoMemorySegment(out, at(y2 + 2 * v), LE);
        c30.intoMemorySegment(out, at(y3), LE); c31.intoMemorySegment(out, at(y3 + v), LE); c32.intoMemorySegment(out, at(y3 + 2 * v), LE);
    }

    /** One row through the packed panel: the rows left over when T is not a multiple of four. */
    private static void gemm1(MemorySegment out, MemorySegment in, MemorySegment packed,
                              int t, int o, int k0, int kc, int C, int OC) {
        int v = F.length();
        long x = (long) t * C + k0, y = (long) t * OC + o;
        FloatVector c0 = FloatVector.fromMemorySegment(F, out, at(y), LE), c1 = FloatVector.fromMemorySegment(F, out, at(y + v), LE),
                c2 = FloatVector.fromMemorySegment(F, out, at(y + 2 * v), LE);
        for (int k = 0; k < kc; k++) {
            long p = (long) k * PANEL;
            FloatVector a = FloatVector.broadcast(F, in.getAtIndex(FLOAT, x + k));
            c0 = FloatVector.fromMemorySegment(F, packed, at(p), LE).fma(a, c0);
            c1 = FloatVector.fromMemorySegment(F, packed, at(p + v), LE).fma(a, c1);
            c2 = FloatVector.fromMemorySegment(F, packed, at(p + 2 * v), LE).fma(a, c2);
        }
        c0.intoMemorySegment(out, at(y), LE);
        c1.intoMemorySegment(out, at(y + v), LE);
        c2.intoMemorySegment(out, at(y + 2 * v), LE);
    }

    /** out[t, o..o+3] = in[t] · weight[wo..wo+3] + bias[o..o+3]. */
    static void dot4(MemorySegment out, MemorySegment in, MemorySegment weight, int wo, MemorySegment bias,
                     int t, int C, int OC, int o) {
        long x = (long) t * C;
        long w0 = (long) wo * C, w1 = w0 + C, w2 = w1 + C, w3 = w2 + C;
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        FloatVector b0 = FloatVector.zero(F), b1 = FloatVector.zero(F), b2 = FloatVector.zero(F), b3 = FloatVector.zero(F);
        int step = F.length();
        int upper2 = C - C % (2 * step);
        int i = 0;
        for (; i < upper2; i += 2 * step) {
            int j = i + step;
            FloatVector xi = FloatVector.fromMemorySegment(F, in, at(x + i), LE), xj = FloatVector.fromMemorySegment(F, in, at(x + j), LE);
            a0 = FloatVector.fromMemorySegment(F, weight, at(w0 + i), LE).fma(xi, a0);
            a1 = FloatVector.fromMemorySegment(F, weight, at(w1 + i), LE).fma(xi, a1);
            a2 = FloatVector.fromMemorySegment(F, weight, at(w2 + i), LE).fma(xi, a2);
            a3 = FloatVector.fromMemorySegment(F, weight, at(w3 + i), LE).fma(xi, a3);
            b0 = FloatVector.fromMemorySegment(F, weight, at(w0 + j), LE).fma(xj, b0);
            b1 = FloatVector.fromMemorySegment(F, weight, at(w1 + j), LE).fma(xj, b1);
            b2 = FloatVector.fromMemorySegment(F, weight, at(w2 + j), LE).fma(xj, b2);
            b3 = FloatVector.fromMemorySegment(F, weight, at(w3 + j), LE).fma(xj, b3);
        }
        for (; i < F.loopBound(C); i += step) {
            FloatVector xi = FloatVector.fromMemorySegment(F, in, at(x + i), LE);
            a0 = FloatVector.fromMemorySegment(F, weight, at(w0 + i), LE).fma(xi, a0);
            a1 = FloatVector.fromMemorySegment(F, weight, at(w1 + i), LE).fma(xi, a1);
            a2 = FloatVector.fromMemorySegment(F, weight, at(w2 + i), LE).fma(xi, a2);
            a3 = FloatVector.fromMemorySegment(F, weight, at(w3 + i), LE).fma(xi, a3);
        }
        float s0 = a0.add(b0).reduceLanes(VectorOperators.ADD), s1 = a1.add(b1).reduceLanes(VectorOperators.ADD);
        float s2 = a2.add(b2).reduceLanes(VectorOperators.ADD), s3 = a3.add(b3).reduceLanes(VectorOperators.ADD);
        for (; i < C; i++) {
            float xi = in.getAtIndex(FLOAT, x + i);
            s0 += weight.getAtIndex(FLOAT, w0 + i) * xi;
            s1 += weight.getAtIndex(FLOAT, w1 + i) * xi;
            s2 += weight.getAtIndex(FLOAT, w2 + i) * xi;
            s3 += weight.getAtIndex(FLOAT, w3 + i) * xi;
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
        long x0 = (long) t * C, x1 = x0 + C, x2 = x1 + C, x3 = x2 + C;
        long w0 = (long) wo * C, w1 = w0 + C, w2 = w1 + C, w3 = w2 + C;
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F), a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F), a33 = FloatVector.zero(F);
        int upper = F.loopBound(C);
        for (int i = 0; i < upper; i += F.length()) {
            FloatVector v0 = FloatVector.fromMemorySegment(F, weight, at(w0 + i), LE), v1 = FloatVector.fromMemorySegment(F, weight, at(w1 + i), LE);
            FloatVector v2 = FloatVector.fromMemorySegment(F, weight, at(w2 + i), LE), v3 = FloatVector.fromMemorySegment(F, weight, at(w3 + i), LE);
            FloatVector x = FloatVector.fromMemorySegment(F, in, at(x0 + i), LE);
            a00 = v0.fma(x, a00); a01 = v1.fma(x, a01); a02 = v2.fma(x, a02); a03 = v3.fma(x, a03);
            x = FloatVector.fromMemorySegment(F, in, at(x1 + i), LE);
            a10 = v0.fma(x, a10); a11 = v1.fma(x, a11); a12 = v2.fma(x, a12); a13 = v3.fma(x, a13);
            x = FloatVector.fromMemorySegment(F, in, at(x2 + i), LE);
            a20 = v0.fma(x, a20); a21 = v1.fma(x, a21); a22 = v2.fma(x, a22); a23 = v3.fma(x, a23);
            x = FloatVector.fromMemorySegment(F, in, at(x3 + i), LE);
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

    /** out[t, o] = s + bias[o] (bias may be null): the end of every one-row dot product. */
    static void store1(MemorySegment out, MemorySegment bias, int t, int OC, int o, float s) {
        if (bias != null) {
            s += bias.getAtIndex(FLOAT, o);
        }
        out.setAtIndex(FLOAT, (long) t * OC + o, s);
    }

    /** out[t, o..o+3] = s0..s3 + bias[o..o+3] (bias may be null): the end of every four-row dot product. */
    static void store4(MemorySegment out, MemorySegment bias, int t, int OC, int o, float s0, float s1, float s2, float s3) {
        if (bias != null) {
            s0 += bias.getAtIndex(FLOAT, o);
            s1 += bias.getAtIndex(FLOAT, o + 1);
            s2 += bias.getAtIndex(FLOAT, o + 2);
            s3 += bias.getAtIndex(FLOAT, o + 3);
        }
        long y = (long) t * OC + o;
        out.setAtIndex(FLOAT, y, s0);
        out.setAtIndex(FLOAT, y + 1, s1);
        out.setAtIndex(FLOAT, y + 2, s2);
        out.setAtIndex(FLOAT, y + 3, s3);
    }

    /**
     * out[t, o] = in[t] · weight[o] + bias[o]: one weight row read front to back, four vectors a step into
     * four accumulators, so that four independent loads are in flight and no FMA waits on the one before.
     */
    private static void dot1(MemorySegment out, MemorySegment in, MemorySegment weight, MemorySegment bias,
                             int t, int C, int OC, int o) {
        long x = (long) t * C, w = (long) o * C;
        Simd.faultable(weight, at(w));
        FloatVector a = FloatVector.zero(F), b = FloatVector.zero(F), c = FloatVector.zero(F), d = FloatVector.zero(F);
        int step = F.length();
        int upper4 = C - C % (4 * step);
        int i = 0;
        for (; i < upper4; i += 4 * step) {
            a = FloatVector.fromMemorySegment(F, weight, at(w + i), LE).fma(FloatVector.fromMemorySegment(F, in, at(x + i), LE), a);
            b = FloatVector.fromMemorySegment(F, weight, at(w + i + step), LE).fma(FloatVector.fromMemorySegment(F, in, at(x + i + step), LE), b);
            c = FloatVector.fromMemorySegment(F, weight, at(w + i + 2 * step), LE).fma(FloatVector.fromMemorySegment(F, in, at(x + i + 2 * step), LE), c);
            d = FloatVector.fromMemorySegment(F, weight, at(w + i + 3 * step), LE).fma(FloatVector.fromMemorySegment(F, in, at(x + i + 3 * step), LE), d);
        }
        for (; i < F.loopBound(C); i += step) {
            a = FloatVector.fromMemorySegment(F, weight, at(w + i), LE).fma(FloatVector.fromMemorySegment(F, in, at(x + i), LE), a);
        }
        float s = a.add(b).add(c.add(d)).reduceLanes(VectorOperators.ADD);
        for (; i < C; i++) {
            s += weight.getAtIndex(FLOAT, w + i) * in.getAtIndex(FLOAT, x + i);
        }
        store1(out, bias, t, OC, o, s);
    }
}
