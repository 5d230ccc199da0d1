package tinyllm.reference;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * GPT-2's forward pass in plain Java over float[]: no vectors, no cache, no threads, no cleverness.
 * It recomputes every position for every call, exactly like llm.c's train_gpt2.c forward with B = 1.
 * The engine is tested against it, and the bench measures the engine against it.
 */
public final class NaiveGPT2 {
    public final int maxT, V, Vp, L, NH, C;
    final float[] wte, wpe, ln1w, ln1b, qkvw, qkvb, attprojw, attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb;

    private NaiveGPT2(int[] h, ByteBuffer params) {
        maxT = h[2]; V = h[3]; L = h[4]; NH = h[5]; C = h[6]; Vp = h[7];
        boolean bf16 = h[1] == 5;
        wte = read(params, (long) Vp * C, bf16);
        wpe = read(params, (long) maxT * C, bf16);
        ln1w = read(params, (long) L * C, bf16);
        ln1b = read(params, (long) L * C, bf16);
        qkvw = read(params, (long) L * 3 * C * C, bf16);
        qkvb = read(params, (long) L * 3 * C, bf16);
        attprojw = read(params, (long) L * C * C, bf16);
        attprojb = read(params, (long) L * C, bf16);
        ln2w = read(params, (long) L * C, bf16);
        ln2b = read(params, (long) L * C, bf16);
        fcw = read(params, (long) L * 4 * C * C, bf16);
        fcb = read(params, (long) L * 4 * C, bf16);
        fcprojw = read(params, (long) L * C * 4 * C, bf16);
        fcprojb = read(params, (long) L * C, bf16);
        lnfw = read(params, C, bf16);
        lnfb = read(params, C, bf16);
    }

    /** Loads a whole checkpoint onto the heap (fine for tests and the bench; the engine maps it instead). */
    public static NaiveGPT2 load(Path path) throws IOException {
        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
        int[] header = new int[256];
        all.asIntBuffer().get(header);
        if (header[0] != 20240326 || (header[1] != 3 && header[1] != 5)) {
            throw new IOException("not an llm.c checkpoint: " + path);
        }
        all.position(1024);
        return new NaiveGPT2(header, all.slice().order(ByteOrder.LITTLE_ENDIAN));
    }

    private static float[] read(ByteBuffer b, long count, boolean bf16) {
        float[] out = new float[Math.toIntExact(count)];
        for (int i = 0; i < out.length; i++) {
            out[i] = bf16 ? Float.intBitsToFloat((b.getShort() & 0xFFFF) << 16) : b.getFloat();
        }
        return out;
    }

    /** Logits (T, V) for every position of {@code tokens}. */
    public float[][] forward(int[] tokens) {
        int T = tokens.length;
        float[] x = new float[T * C];
        encoder(x, tokens, wte, wpe, T, C);
        float[] ln = new float[T * C], qkv = new float[T * 3 * C], atty = new float[T * C], proj = new float[T * C];
        float[] fch = new float[T * 4 * C], fchGelu = new float[T * 4 * C];
        for (int l = 0; l < L; l++) {
            layernorm(ln, x, ln1w, l * C, ln1b, l * C, T, C);
            matmul(qkv, ln, qkvw, l * 3 * C * C, qkvb, l * 3 * C, T, C, 3 * C);
            attention(atty, qkv, T, C, NH);
            matmul(proj, atty, attprojw, l * C * C, attprojb, l * C, T, C, C);
            residual(x, proj);
            layernorm(ln, x, ln2w, l * C, ln2b, l * C, T, C);
            matmul(fch, ln, fcw, l * 4 * C * C, fcb, l * 4 * C, T, C, 4 * C);
            gelu(fchGelu, fch);
            matmul(proj, fchGelu, fcprojw, l * C * 4 * C, fcprojb, l * C, T, 4 * C, C);
            residual(x, proj);
        }
        layernorm(ln, x, lnfw, 0, lnfb, 0, T, C);
        float[][] logits = new float[T][V];
        for (int t = 0; t < T; t++) {
            for (int v = 0; v < V; v++) {
                float sum = 0;
                for (int i = 0; i < C; i++) {
                    sum += ln[t * C + i] * wte[v * C + i];
                }
                logits[t][v] = sum;
            }
        }
        return logits;
    }

    /** Greedy continuation of {@code prompt}: recomputes the whole forward for each new token. */
    public int[] greedy(int[] prompt, int steps) {
        int[] tokens = java.util.Arrays.copyOf(prompt, prompt.length + steps);
        for (int s = 0; s < steps; s++) {
            float[][] logits = forward(java.util.Arrays.copyOf(tokens, prompt.length + s));
            tokens[prompt.length + s] = argmax(logits[logits.length - 1]);
        }
        return java.util.Arrays.copyOfRange(tokens, prompt.length, tokens.length);
    }

    /**
     * The same model with a KV cache, still plain float[] loops on one thread: the fair baseline for
     * decode speed (without a cache, the naive model would recompute every position per token).
     */
    public final class Cached {
        private final float[][] keys = new float[L][maxT * C], values = new float[L][maxT * C];
        private final float[] x = new float[C], ln = new float[C], qkv = new float[3 * C], atty = new float[C],
                proj = new float[C], fch = new float[4 * C], fchGelu = new float[4 * C], att = new float[maxT];
        public final float[] logits = new float[V];
        private int position;

        public int position() {
            return position;
        }

        public void rewind(int position) {
            this.position = position;
        }

        /** Feeds tokens one by one; only the last one's logits are computed. */
        public void prefill(int[] tokens, int count) {
            for (int i = 0; i < count; i++) {
                step(tokens[i], i == count - 1);
            }
        }

        /** One token at the current position, then its logits. */
        public void decode(int token) {
            step(token, true);
        }

        private void step(int token, boolean wantLogits) {
            int pos = position++, hs = C / NH;
            float scale = (float) (1.0 / Math.sqrt(hs));
            for (int i = 0; i < C; i++) x[i] = wte[token * C + i] + wpe[pos * C + i];
            for (int l = 0; l < L; l++) {
                layernorm(ln, x, ln1w, l * C, ln1b, l * C, 1, C);
                matmul(qkv, ln, qkvw, l * 3 * C * C, qkvb, l * 3 * C, 1, C, 3 * C);
                System.arraycopy(qkv, C, keys[l], pos * C, C);
                System.arraycopy(qkv, 2 * C, values[l], pos * C, C);
                for (int h = 0; h < NH; h++) {
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j <= pos; j++) {
                        float dot = 0;
                        for (int d = 0; d < hs; d++) dot += qkv[h * hs + d] * keys[l][j * C + h * hs + d];
                        att[j] = dot * scale;
                        max = Math.max(max, att[j]);
                    }
                    float sum = 0;
                    for (int j = 0; j <= pos; j++) {
                        att[j] = (float) Math.exp(att[j] - max);
                        sum += att[j];
                    }
                    for (int d = 0; d < hs; d++) {
                        float acc = 0;
                        for (int j = 0; j <= pos; j++) acc += att[j] / sum * values[l][j * C + h * hs + d];
                        atty[h * hs + d] = acc;
                    }
                }
                matmul(proj, atty, attprojw, l * C * C, attprojb, l * C, 1, C, C);
                residual(x, proj);
                layernorm(ln, x, ln2w, l * C, ln2b, l * C, 1, C);
                matmul(fch, ln, fcw, l * 4 * C * C, fcb, l * 4 * C, 1, C, 4 * C);
                gelu(fchGelu, fch);
                matmul(proj, fchGelu, fcprojw, l * C * 4 * C, fcprojb, l * C, 1, 4 * C, C);
                residual(x, proj);
            }
            if (wantLogits) {
                layernorm(ln, x, lnfw, 0, lnfb, 0, 1, C);
                matmul(logits, ln, wte, 0, null, 0, 1, C, V);
            }
        }
    }

    // ---- the operations, one each, as in llm.c ----

    /** out (T,C) = wte[tokens[t]] + wpe[t]. */
    public static void encoder(float[] out, int[] tokens, float[] wte, float[] wpe, int T, int C) {
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < C; i++) {
                out[t * C + i] = wte[tokens[t] * C + i] + wpe[t * C + i];
            }
        }
    }

    /** out (T,C) = normalised in, scaled by w and shifted by b (at offsets wOff, bOff). */
    public static void layernorm(float[] out, float[] in, float[] w, int wOff, float[] b, int bOff, int T, int C) {
        for (int t = 0; t < T; t++) {
            float mean = 0;
            for (int i = 0; i < C; i++) mean += in[t * C + i];
            mean /= C;
            float var = 0;
            for (int i = 0; i < C; i++) {
                float d = in[t * C + i] - mean;
                var += d * d;
            }
            var /= C;
            float rstd = 1f / (float) Math.sqrt(var + 1e-5f);
            for (int i = 0; i < C; i++) {
                out[t * C + i] = (in[t * C + i] - mean) * rstd * w[wOff + i] + b[bOff + i];
            }
        }
    }

    /** out (T,OC) = in (T,C) · w (OC,C)ᵀ + b (OC); b may be null. */
    public static void matmul(float[] out, float[] in, float[] w, int wOff, float[] b, int bOff, int T, int C, int OC) {
        for (int t = 0; t < T; t++) {
            for (int o = 0; o < OC; o++) {
                float sum = b == null ? 0 : b[bOff + o];
                for (int i = 0; i < C; i++) {
                    sum += in[t * C + i] * w[wOff + o * C + i];
                }
                out[t * OC + o] = sum;
            }
        }
    }

    /** out (T,C) = causal softmax attention from qkv (T,3C) = [q | k | v]. */
    public static void attention(float[] out, float[] qkv, int T, int C, int NH) {
        int hs = C / NH;
        float scale = (float) (1.0 / Math.sqrt(hs));
        float[] att = new float[T];
        for (int t = 0; t < T; t++) {
            for (int h = 0; h < NH; h++) {
                int q = t * 3 * C + h * hs;
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j <= t; j++) {
                    int k = j * 3 * C + C + h * hs;
                    float dot = 0;
                    for (int d = 0; d < hs; d++) dot += qkv[q + d] * qkv[k + d];
                    att[j] = dot * scale;
                    max = Math.max(max, att[j]);
                }
                float sum = 0;
                for (int j = 0; j <= t; j++) {
                    att[j] = (float) Math.exp(att[j] - max);
                    sum += att[j];
                }
                for (int d = 0; d < hs; d++) {
                    float acc = 0;
                    for (int j = 0; j <= t; j++) acc += att[j] / sum * qkv[j * 3 * C + 2 * C + h * hs + d];
                    out[t * C + h * hs + d] = acc;
                }
            }
        }
    }

    /** out = GELU(in), tanh approximation. */
    public static void gelu(float[] out, float[] in) {
        float s = (float) Math.sqrt(2.0 / Math.PI);
        for (int i = 0; i < in.length; i++) {
            float x = in[i];
            out[i] = 0.5f * x * (1f + (float) Math.tanh(s * (x + 0.044715f * x * x * x)));
        }
    }

    /** x += delta. */
    public static void residual(float[] x, float[] delta) {
        for (int i = 0; i < x.length; i++) x[i] += delta[i];
    }

    /** Index of the largest value; the lowest wins a tie. */
    public static int argmax(float[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
