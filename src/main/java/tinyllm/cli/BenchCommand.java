package tinyllm.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import tinyllm.TinyLlmException;
import tinyllm.bench.BenchReport;
import tinyllm.bench.ColdStart;
import tinyllm.bench.EngineBench;
import tinyllm.checkpoint.Checkpoint;
import tinyllm.bench.MachineProbe;
import tinyllm.kernels.Simd;
import tinyllm.model.DType;
import tinyllm.model.GPT2Config;
import tinyllm.api.Model;

/** {@code tinyllm bench}: the engine's speed as fractions of this machine's limits, all measured in one run. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false, subcommands = {ServeBenchCommand.class, AccuracyBenchCommand.class},
        description = {"Measure prefill and decode speed against this machine's limits.",
                "Memory bandwidth and FMA peak are measured in the same run. Prints a",
                "table, writes JSON and an SVG plot. A synthetic checkpoint is as good as",
                "the real one: speed does not depend on the values. Give --model twice",
                "(e.g. fp32, bf16 and q8 files of one shape) to compare them in one run."},
        footer = {"", "Example:", "  tinyllm synthetic --shape 124M && tinyllm bench --model weights/synthetic-124M.bin"})
final class BenchCommand implements Callable<Integer> {
    /** Prefill below this fraction of the FMA peak means a kernel never left the interpreter or C1. */
    private static final double COLD_KERNEL_FRACTION = 0.05;
    /** Rounds of decode steps, each followed by one read of the weights, behind "decode / roofline". */
    private static final int PAIRED_ROUNDS = 9;
    /** The shortest context the warm-up (a prompt, then 48 decode steps) and the decode figures fit in. */
    private static final int MIN_CONTEXT = 64;

    @Option(names = "--model", paramLabel = "FILE", defaultValue = GenerateCommand.DEFAULT_MODEL,
            description = "Checkpoint to measure; repeat to compare several (default: ${DEFAULT-VALUE}).")
    List<Path> models;

    @Mixin
    MappingOption mapping = new MappingOption();

    @Mixin
    ThreadsOption threads = new ThreadsOption();

    @Option(names = "--json", paramLabel = "FILE", defaultValue = "target/bench/bench.json",
            description = "Where to write the figures as JSON (default: ${DEFAULT-VALUE}).")
    Path json;

    @Option(names = "--plot", paramLabel = "FILE", defaultValue = "target/bench/bench.svg",
            description = "Where to write the plot (default: ${DEFAULT-VALUE}).")
    Path plot;

    @Option(names = "--quick", description = "Fewer repeats and a decode run to context 260 only: a rough look in seconds.")
    boolean quick;

    @Option(names = "--cold", description = "Instead: time fresh ./tinyllm generate processes, as a CLI user meets them"
            + " (wall, first step, stats), for a short and a 900-token prompt.")
    boolean cold;

    @Option(names = "--runs", paramLabel = "N", defaultValue = "3", description = "With --cold: processes per case; medians are shown (default: ${DEFAULT-VALUE}).")
    int runs;


    private final PrintStream out;

    BenchCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() {
        int n = threads.count();
        if (n < 1) throw new TinyLlmException("--threads must be at least 1, got " + n);
        int repeats = quick ? 1 : 3;
        BenchReport report = new BenchReport();
        Map<Path, GPT2Config> configs = new HashMap<>();
        for (Path model : models) { // a missing or unusable model is found now, not after the probes
            try (Model m = Model.open(model, n, mapping.map())) {
                if (m.config().maxSeqLen() < MIN_CONTEXT) {
                    throw new TinyLlmException("bench needs a model with a context of at least " + MIN_CONTEXT + " tokens (it times decode"
                            + " at context 16 and beyond); " + model + " has " + m.config().maxSeqLen());
                }
                configs.put(model, m.config());
            }
        }

        if (cold) {
            if (runs < 1) throw new TinyLlmException("--runs must be at least 1, got " + runs);
            ColdStart coldStart = ColdStart.beside(ColdStart.codeLocation(), out);
            for (Path model : models) {
                coldStart.measure(model, configs.get(model), runs, json.toAbsolutePath().getParent());
            }
            return 0;
        }
        out.printf(Locale.ROOT, "bench: %d threads, %d-bit vectors; measuring memory bandwidth and FMA peak ...%n", n, Simd.LANES * 32);
        double bw1 = MachineProbe.readBandwidth(1, repeats + 2), bwN = MachineProbe.readBandwidth(n, repeats + 2);
        double fma1 = MachineProbe.fmaPeak(1, repeats + 2), fmaN = MachineProbe.fmaPeak(n, repeats + 2);
        report.machine.put("threads", n);
        report.machine.put("vector_bits", Simd.LANES * 32);
        report.machine.put("bandwidth_gb_s_1_thread", BenchReport.round(bw1));
        report.machine.put("bandwidth_gb_s", BenchReport.round(bwN));
        report.machine.put("fma_peak_gflops_1_thread", BenchReport.round(fma1));
        report.machine.put("fma_peak_gflops", BenchReport.round(fmaN));

        for (Path model : models) {
            report.runs.add(measure(model, n, repeats, fmaN));
        }

        out.println();
        out.printf(Locale.ROOT, "  %-34s %.1f GB/s (1 thread), %.1f GB/s (%d threads)%n", "memory bandwidth (anonymous)", bw1, bwN, n);
        out.printf(Locale.ROOT, "  %-34s %.0f GFLOP/s (1 thread), %.0f GFLOP/s (%d threads)%n", "fp32 FMA peak", fma1, fmaN, n);
        table(report.runs);
        compareDtypes(report);

        write(json, json(report));
        write(plot, report.svg(String.format(Locale.ROOT, "tinyllm, %d threads, %d-bit vectors", n, Simd.LANES * 32)));
        out.println();
        out.println("wrote " + json + " and " + plot);
        return 0;
    }

    private BenchReport.Run measure(Path model, int n, int repeats, double fmaPeak) {
        // The roofline is the read rate of the checkpoint's own mapped 4 KB pages, not of anonymous memory: decode
        // reads exactly those pages. The probe's threads and the model's take turns: each pool's idle workers park.
        // The probe is paired with decode, round by round (see below): on a shared host the read rate moves by 2x
        // from one minute to the next, so a roofline probed minutes before the decode said 57 % in one run, 119 % in
        // another of the same code. The probe reads a mapping of the file even with --no-mmap: a copy of its own,
        // alive beside the model's copy for the whole run, would double the memory (12 GB for GPT-2 XL).
        try (Arena probeArena = Arena.ofShared();
             MachineProbe.SegmentReader reader = new MachineProbe.SegmentReader(Checkpoint.open(model, probeArena, true).parameters(), n)) {
            double firstRead = 0; // best of a few reads before the model loads, for comparison in the JSON
            for (int r = 0; r < repeats + 2; r++) firstRead = Math.max(firstRead, reader.gbPerSecond());
            long loadStart = System.nanoTime();
            try (Model m = Model.open(model, n, mapping.map())) {
                double loadMs = (System.nanoTime() - loadStart) / 1e6;
                GPT2Config c = m.config();

                int maxT = c.maxSeqLen();
                BenchReport.Run run = new BenchReport.Run(model.getFileName() + " (" + c.dtype().label() + ")");
                out.printf(Locale.ROOT, "%s: %s; warming up ...%n", run.name, c.dimensions());
                EngineBench bench = new EngineBench(m);
                bench.warmUp();

                out.println("  prefill ...");
                double prefill = Double.NaN;
                int prefillLength = Math.min(512, maxT);
                for (int length : new int[] {16, 32, 64, 128, 256, 512}) {
                    if (length > maxT) break;
                    double tps = bench.prefillTokensPerSecond(length, repeats);
                    run.prefillCurve.add(new double[] {length, tps});
                    if (length == prefillLength) prefill = tps;
                }
                if (Double.isNaN(prefill)) prefill = bench.prefillTokensPerSecond(prefillLength, repeats);

                out.println("  decode ...");
                int start = Math.min(15, maxT - 2), end = Math.min(quick ? 260 : 1008, maxT);
                long[] steps = bench.decodeSteps(start, end);
                int window = 16;
                for (int ctx = start + window / 2; ctx < end; ctx += 16) {
                    run.decodeCurve.add(new double[] {ctx, EngineBench.decodeTokensPerSecond(steps, start, ctx, window)});
                }
                int far = Math.min(1000, end - 1);
                double decode16 = EngineBench.decodeTokensPerSecond(steps, start, 16, window);
                double decode128 = EngineBench.decodeTokensPerSecond(steps, start, Math.min(128, end - 1), window);
                double decodeFar = EngineBench.decodeTokensPerSecond(steps, start, far, window);
                long bytesPerToken = c.weightBytesPerToken();
                int pairedContext = Math.min(128, maxT - window);
                double[][] pairs = bench.pairedDecodeAndRead(pairedContext, window, PAIRED_ROUNDS, reader);
                bench.close();
                double[] ratios = new double[pairs.length], reads = new double[pairs.length];
                for (int r = 0; r < pairs.length; r++) {
                    reads[r] = pairs[r][1];
                    ratios[r] = pairs[r][0] / (pairs[r][1] * 1e9 / bytesPerToken);
                }
                java.util.Arrays.sort(ratios);
                java.util.Arrays.sort(reads);
                double weightsBandwidth = reads[reads.length / 2];
                double roofline = weightsBandwidth * 1e9 / bytesPerToken;
                double prefillGflops = EngineBench.prefillFlops(c, prefillLength) / (prefillLength / prefill) / 1e9;
                if (prefillGflops < COLD_KERNEL_FRACTION * fmaPeak) {
                    out.printf(Locale.ROOT, "  WARNING: prefill ran at %.1f GFLOP/s, under %.0f %% of the FMA peak: a kernel is probably stuck in the"
                            + " interpreter or C1 (try JAVA_OPTS=-XX:-TieredCompilation)%n", prefillGflops, 100 * COLD_KERNEL_FRACTION);
                }
                run.figures.put("model", model.toString());
                run.figures.put("shape", c.dimensions());
                run.figures.put("dtype", c.dtype().label());
                run.figures.put("load_ms", BenchReport.round(loadMs));
                run.figures.put("prefill_tokens", prefillLength);
                run.figures.put("prefill_tokens_per_s", BenchReport.round(prefill));
                run.figures.put("prefill_gflops", BenchReport.round(prefillGflops));
                run.figures.put("prefill_percent_of_fma_peak", BenchReport.round(100 * prefillGflops / fmaPeak));
                run.figures.put("decode_tokens_per_s_context_16", BenchReport.round(decode16));
                run.figures.put("decode_tokens_per_s_context_128", BenchReport.round(decode128));
                run.figures.put("decode_far_context", far);
                run.figures.put("decode_tokens_per_s_far_context", BenchReport.round(decodeFar));
                run.figures.put("decode_far_over_16", BenchReport.round(decodeFar / decode16));
                run.figures.put("decode_tokens_per_s_every_step", BenchReport.round(EngineBench.meanTokensPerSecond(steps)));
                run.figures.put("decode_steps", steps.length);
                run.figures.put("decode_stalled_steps", EngineBench.stalledSteps(steps));
                run.figures.put("weights_bytes_per_token", bytesPerToken);
                run.figures.put("decode_effective_gb_s", BenchReport.round(decode128 * bytesPerToken / 1e9));
                run.figures.put("weights_read_gb_s", BenchReport.round(weightsBandwidth));
                run.figures.put("decode_roofline_tokens_per_s", BenchReport.round(roofline));
                run.figures.put("decode_percent_of_roofline", BenchReport.round(100 * ratios[ratios.length / 2]));
                run.figures.put("decode_percent_of_roofline_range", List.of(BenchReport.round(100 * ratios[0]), BenchReport.round(100 * ratios[ratios.length - 1])));
                run.figures.put("weights_read_gb_s_first", BenchReport.round(firstRead));
                run.figures.put("decode_paired_context", pairedContext);
                return run;
            }
        }
    }

    /** One column per model. */
    private void table(List<BenchReport.Run> runs) {
        out.println();
        StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "  %-34s", ""));
        for (BenchReport.Run run : runs) header.append(String.format(Locale.ROOT, " %-30s", run.name));
        out.println(header);
        row(runs, "load", r -> String.format(Locale.ROOT, "%.0f ms", d(r, "load_ms")));
        row(runs, "prefill 512 tokens", r -> String.format(Locale.ROOT, "%.0f tokens/s", d(r, "prefill_tokens_per_s")));
        row(runs, "  as GFLOP/s, % of FMA peak", r -> String.format(Locale.ROOT, "%.0f, %.0f %%", d(r, "prefill_gflops"), d(r, "prefill_percent_of_fma_peak")));
        row(runs, "decode at context 16", r -> String.format(Locale.ROOT, "%.1f tokens/s", d(r, "decode_tokens_per_s_context_16")));
        row(runs, "decode at context 128", r -> String.format(Locale.ROOT, "%.1f tokens/s", d(r, "decode_tokens_per_s_context_128")));
        row(runs, "decode at the far context", r -> String.format(Locale.ROOT, "%.1f tokens/s at %d", d(r, "decode_tokens_per_s_far_context"), (int) d(r, "decode_far_context")));
        row(runs, "  far / context 16", r -> String.format(Locale.ROOT, "%.2f x", d(r, "decode_far_over_16")));
        row(runs, "decode, mean of every step", r -> String.format(Locale.ROOT, "%.1f tokens/s", d(r, "decode_tokens_per_s_every_step")));
        row(runs, "  steps over 3 x the median", r -> String.format(Locale.ROOT, "%d of %d", (int) d(r, "decode_stalled_steps"), (int) d(r, "decode_steps")));
        row(runs, "weights read per token", r -> String.format(Locale.ROOT, "%.1f MB", d(r, "weights_bytes_per_token") / 1e6));
        row(runs, "decode effective bandwidth", r -> String.format(Locale.ROOT, "%.1f GB/s", d(r, "decode_effective_gb_s")));
        row(runs, "reading its weights (probe)", r -> String.format(Locale.ROOT, "%.1f GB/s", d(r, "weights_read_gb_s")));
        row(runs, "decode roofline", r -> String.format(Locale.ROOT, "%.1f tokens/s", d(r, "decode_roofline_tokens_per_s")));
        row(runs, "decode / roofline, paired", r -> {
            List<?> range = (List<?>) r.figures.get("decode_percent_of_roofline_range");
            return String.format(Locale.ROOT, "%.0f %% (%.0f-%.0f) at %d", d(r, "decode_percent_of_roofline"),
                    ((Number) range.get(0)).doubleValue(), ((Number) range.get(1)).doubleValue(), (int) d(r, "decode_paired_context"));
        });
    }

    private void row(List<BenchReport.Run> runs, String name, Function<BenchReport.Run, String> cell) {
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %-34s", name));
        for (BenchReport.Run run : runs) line.append(String.format(Locale.ROOT, " %-30s", cell.apply(run)));
        out.println(line);
    }

    private static double d(BenchReport.Run run, String key) {
        return ((Number) run.figures.get(key)).doubleValue();
    }

    /**
     * With an fp32 model and models of other encodings of the same shape in the run: what the fewer bytes bought,
     * each against the first fp32 run.
     */
    private void compareDtypes(BenchReport report) {
        BenchReport.Run fp32 = report.runs.stream()
                .filter(run -> DType.parse((String) run.figures.get("dtype")) == DType.FP32).findFirst().orElse(null);
        if (fp32 == null) {
            return;
        }
        for (BenchReport.Run run : report.runs) {
            DType dtype = DType.parse((String) run.figures.get("dtype"));
            if (dtype == DType.FP32 || !run.figures.get("shape").equals(fp32.figures.get("shape"))) {
                continue;
            }
            String name = dtype.label();
            if (report.comparisons.containsKey(name + "_over_fp32_decode")) {
                continue; // the first model of each encoding
            }
            double decode = d(run, "decode_tokens_per_s_context_128") / d(fp32, "decode_tokens_per_s_context_128");
            double prefill = d(run, "prefill_tokens_per_s") / d(fp32, "prefill_tokens_per_s");
            report.comparisons.put(name + "_over_fp32_decode", BenchReport.round(decode));
            report.comparisons.put(name + "_over_fp32_prefill", BenchReport.round(prefill));
            out.printf(Locale.ROOT, "  %-34s decode %.2f x, prefill %.2f x%n", name + " / fp32", decode, prefill);
        }
    }

    private static String json(BenchReport report) {
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(report.json());
        } catch (IOException e) {
            throw new TinyLlmException("cannot render the bench JSON: " + e.getMessage(), e);
        }
    }

    private static void write(Path path, String content) {
        try {
            if (path.getParent() != null) Files.createDirectories(path.getParent());
            Files.writeString(path, content);
        } catch (IOException e) {
            throw TinyLlmException.io("cannot write", path, e);
        }
    }
}
