package tinyllm.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import tinyllm.TinyLlmException;
import tinyllm.bench.BenchReport;
import tinyllm.bench.EngineBench;
import tinyllm.bench.MachineProbe;
import tinyllm.kernels.Simd;
import tinyllm.model.GPT2Config;
import tinyllm.runtime.Model;

/** {@code tinyllm bench}: the engine's speed as fractions of this machine's limits, all measured in one run. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measure prefill and decode speed on a checkpoint against this machine's memory bandwidth",
                "and FMA peak, measured in the same run. Prints a table, writes JSON and an SVG plot.",
                "A synthetic checkpoint is as good as the real one: speed does not depend on the values."},
        footer = {"", "Example:", "  tinyllm synthetic --shape 124M && tinyllm bench --model weights/synthetic-124M.bin"})
final class BenchCommand implements Callable<Integer> {

    @Option(names = "--model", paramLabel = "FILE", defaultValue = GenerateCommand.DEFAULT_MODEL,
            description = "Checkpoint to measure (default: ${DEFAULT-VALUE}).")
    Path model;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all available processors).")
    Integer threads;

    @Option(names = "--json", paramLabel = "FILE", defaultValue = "target/bench/bench.json",
            description = "Where to write the figures as JSON (default: ${DEFAULT-VALUE}).")
    Path json;

    @Option(names = "--plot", paramLabel = "FILE", defaultValue = "target/bench/bench.svg",
            description = "Where to write the plot (default: ${DEFAULT-VALUE}).")
    Path plot;

    @Option(names = "--quick", description = "Fewer repeats and a shorter decode run: a rough look in a few seconds.")
    boolean quick;

    @Option(names = "--verbose", description = "Print stack traces with errors.")
    boolean verbose;

    private final PrintStream out;

    BenchCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() throws IOException {
        int n = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        int repeats = quick ? 1 : 3;
        BenchReport report = new BenchReport();

        long loadStart = System.nanoTime();
        try (Model m = Model.open(model, n)) {
            double loadMs = (System.nanoTime() - loadStart) / 1e6;
            GPT2Config c = m.config();
            int maxT = c.maxSeqLen();
            out.printf(Locale.ROOT, "bench: %s (L=%d NH=%d C=%d V=%d maxT=%d, %s), %d threads, %d-bit vectors%n",
                    model, c.layers(), c.heads(), c.channels(), c.vocabSize(), maxT, c.dtype(), n, Simd.LANES * 32);

            out.println("measuring memory bandwidth and FMA peak ...");
            double bw1 = MachineProbe.readBandwidth(1, repeats + 1), bwN = MachineProbe.readBandwidth(n, repeats + 1);
            double fma1 = MachineProbe.fmaPeak(1, repeats + 1), fmaN = MachineProbe.fmaPeak(n, repeats + 1);

            EngineBench bench = new EngineBench(m);
            out.println("warming up ...");
            bench.warmUp();

            out.println("measuring prefill ...");
            int[] lengths = {16, 32, 64, 128, 256, 512};
            double prefill512 = Double.NaN;
            for (int length : lengths) {
                if (length > maxT) break;
                double tps = bench.prefillTokensPerSecond(length, repeats);
                report.prefillCurve.add(new double[] {length, tps});
                if (length == 512) prefill512 = tps;
            }
            int prefillLength = (int) Math.min(512, maxT);
            if (Double.isNaN(prefill512)) prefill512 = bench.prefillTokensPerSecond(prefillLength, repeats);

            out.println("measuring decode ...");
            int start = Math.min(15, maxT - 2), end = Math.min(quick ? 260 : 1008, maxT);
            long[] steps = bench.decodeSteps(start, end);
            int window = 16;
            for (int ctx = start + window / 2; ctx < end; ctx += 32) {
                report.decodeCurve.add(new double[] {ctx, EngineBench.decodeTokensPerSecond(steps, start, ctx, window)});
            }
            double decode16 = EngineBench.decodeTokensPerSecond(steps, start, 16, window);
            double decode128 = EngineBench.decodeTokensPerSecond(steps, start, Math.min(128, end - 1), window);
            double decode1000 = EngineBench.decodeTokensPerSecond(steps, start, Math.min(1000, end - 1), window);
            bench.close();

            long bytesPerToken = c.weightBytesPerToken();
            double roofline = bwN * 1e9 / bytesPerToken;
            double prefillGflops = EngineBench.prefillFlops(c, prefillLength) / (prefillLength / prefill512) / 1e9;

            report.put("model", model.toString());
            report.put("shape", String.format(Locale.ROOT, "L=%d NH=%d C=%d V=%d maxT=%d", c.layers(), c.heads(), c.channels(), c.vocabSize(), maxT));
            report.put("dtype", c.dtype().name().toLowerCase(Locale.ROOT));
            report.put("threads", n);
            report.put("vector_bits", Simd.LANES * 32);
            report.put("load_ms", BenchReport.round(loadMs));
            report.put("bandwidth_gb_s_1_thread", BenchReport.round(bw1));
            report.put("bandwidth_gb_s", BenchReport.round(bwN));
            report.put("fma_peak_gflops_1_thread", BenchReport.round(fma1));
            report.put("fma_peak_gflops", BenchReport.round(fmaN));
            report.put("prefill_tokens", prefillLength);
            report.put("prefill_tokens_per_s", BenchReport.round(prefill512));
            report.put("prefill_gflops", BenchReport.round(prefillGflops));
            report.put("prefill_percent_of_fma_peak", BenchReport.round(100 * prefillGflops / fmaN));
            report.put("decode_tokens_per_s_context_16", BenchReport.round(decode16));
            report.put("decode_tokens_per_s_context_128", BenchReport.round(decode128));
            report.put("decode_tokens_per_s_context_1000", BenchReport.round(decode1000));
            report.put("decode_1000_over_16", BenchReport.round(decode1000 / decode16));
            report.put("weights_bytes_per_token", bytesPerToken);
            report.put("decode_effective_gb_s", BenchReport.round(decode128 * bytesPerToken / 1e9));
            report.put("decode_roofline_tokens_per_s", BenchReport.round(roofline));
            report.put("decode_percent_of_roofline", BenchReport.round(100 * decode128 / roofline));

            out.println();
            row("load", "%.0f ms", loadMs);
            row("memory bandwidth, 1 thread", "%.1f GB/s", bw1);
            row("memory bandwidth, " + n + " threads", "%.1f GB/s", bwN);
            row("fp32 FMA peak, 1 thread", "%.0f GFLOP/s", fma1);
            row("fp32 FMA peak, " + n + " threads", "%.0f GFLOP/s", fmaN);
            row("prefill " + prefillLength + " tokens", "%.0f tokens/s  (%.0f GFLOP/s, %.0f %% of FMA peak)", prefill512, prefillGflops, 100 * prefillGflops / fmaN);
            row("decode at context 16", "%.1f tokens/s", decode16);
            row("decode at context 128", "%.1f tokens/s", decode128);
            row("decode at context " + Math.min(1000, end - 1), "%.1f tokens/s  (%.2f x context 16)", decode1000, decode1000 / decode16);
            row("weights read per token", "%.1f MB", bytesPerToken / 1e6);
            row("decode effective bandwidth", "%.1f GB/s (context 128)", decode128 * bytesPerToken / 1e9);
            row("decode roofline", "%.1f tokens/s  (bandwidth / weight bytes)", roofline);
            row("decode vs roofline", "%.0f %%", 100 * decode128 / roofline);

            write(json, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(report.json()));
            write(plot, report.svg(String.format(Locale.ROOT, "tinyllm %s, %s, %d threads, %d-bit vectors",
                    report.figures.get("shape"), report.figures.get("dtype"), n, Simd.LANES * 32)));
            out.println();
            out.println("wrote " + json + " and " + plot);
        }
        return 0;
    }

    private void row(String name, String format, Object... values) {
        out.printf(Locale.ROOT, "  %-32s " + format + "%n", prepend(name, values));
    }

    private static Object[] prepend(String first, Object[] rest) {
        Object[] all = new Object[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    private static void write(Path path, String content) {
        try {
            if (path.getParent() != null) Files.createDirectories(path.getParent());
            Files.writeString(path, content);
        } catch (IOException e) {
            throw new TinyLlmException("cannot write " + path + ": " + e.getMessage(), e);
        }
    }
}
