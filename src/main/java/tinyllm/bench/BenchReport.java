package tinyllm.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What one bench run measured (the machine, then each model), and its renderings: JSON and an SVG plot. */
public final class BenchReport {
    /** One model's figures and curves. */
    public static final class Run {
        public final String name;
        public final Map<String, Object> figures = new LinkedHashMap<>();
        public final List<double[]> decodeCurve = new ArrayList<>();   // {context position, tokens/s}
        public final List<double[]> prefillCurve = new ArrayList<>();  // {prompt length, tokens/s}

        public Run(String name) {
            this.name = name;
        }

        Map<String, Object> json() {
            Map<String, Object> json = new LinkedHashMap<>(figures);
            json.put("decode_curve", decodeCurve.stream().map(p -> Map.of("context", (int) p[0], "tokens_per_s", round(p[1]))).toList());
            json.put("prefill_curve", prefillCurve.stream().map(p -> Map.of("prompt_tokens", (int) p[0], "tokens_per_s", round(p[1]))).toList());
            return json;
        }
    }

    public final Map<String, Object> machine = new LinkedHashMap<>();
    public final List<Run> runs = new ArrayList<>();
    public final Map<String, Object> comparisons = new LinkedHashMap<>();

    public Map<String, Object> json() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("machine", machine);
        json.put("models", runs.stream().map(Run::json).toList());
        if (!comparisons.isEmpty()) json.put("comparisons", comparisons);
        return json;
    }

    public static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    private static final String[] COLOURS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};

    /** Two line charts side by side: decode tokens/s against context position, prefill tokens/s against prompt length. */
    public String svg(String title) {
        StringBuilder s = new StringBuilder();
        s.append("<svg xmlns='http://www.w3.org/2000/svg' width='960' height='430' font-family='sans-serif' font-size='12'>\n");
        s.append("<rect width='960' height='430' fill='white'/>\n");
        s.append("<text x='480' y='22' text-anchor='middle' font-size='15'>").append(escape(title)).append("</text>\n");
        chart(s, 60, 50, 380, 290, true, "context position (tokens)", "decode tokens/s");
        chart(s, 540, 50, 380, 290, false, "prompt length (tokens)", "prefill tokens/s");
        for (int r = 0; r < runs.size(); r++) {
            int y = 405 + 0 * r, x = 60 + 300 * r;
            s.append(String.format(Locale.ROOT, "<line x1='%d' x2='%d' y1='%d' y2='%d' stroke='%s' stroke-width='3'/>", x, x + 20, y - 4, y - 4, colour(r)));
            s.append(String.format(Locale.ROOT, "<text x='%d' y='%d'>%s</text>%n", x + 26, y, escape(runs.get(r).name)));
        }
        s.append("</svg>\n");
        return s.toString();
    }

    private static String colour(int run) {
        return COLOURS[run % COLOURS.length];
    }

    private void chart(StringBuilder s, int x0, int y0, int w, int h, boolean decode, String xLabel, String yLabel) {
        double maxX = 1, maxY = 1;
        for (Run run : runs) {
            for (double[] p : decode ? run.decodeCurve : run.prefillCurve) {
                maxX = Math.max(maxX, p[0]);
                maxY = Math.max(maxY, p[1]);
            }
        }
        maxY = niceCeiling(maxY);
        s.append(String.format(Locale.ROOT, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#888'/>%n", x0, y0, w, h));
        for (int i = 0; i <= 4; i++) {
            double y = y0 + h - h * i / 4.0;
            s.append(String.format(Locale.ROOT, "<line x1='%d' x2='%d' y1='%.1f' y2='%.1f' stroke='#eee'/>", x0, x0 + w, y, y));
            s.append(String.format(Locale.ROOT, "<text x='%d' y='%.1f' text-anchor='end'>%.0f</text>%n", x0 - 4, y + 4, maxY * i / 4));
            s.append(String.format(Locale.ROOT, "<text x='%.1f' y='%d' text-anchor='middle'>%.0f</text>%n", x0 + w * i / 4.0, y0 + h + 16, maxX * i / 4));
        }
        s.append(String.format(Locale.ROOT, "<text x='%d' y='%d' text-anchor='middle'>%s</text>%n", x0 + w / 2, y0 + h + 34, escape(xLabel)));
        s.append(String.format(Locale.ROOT, "<text x='%d' y='%d' text-anchor='middle' transform='rotate(-90 %d %d)'>%s</text>%n",
                x0 - 42, y0 + h / 2, x0 - 42, y0 + h / 2, escape(yLabel)));
        for (int r = 0; r < runs.size(); r++) {
            StringBuilder line = new StringBuilder();
            for (double[] p : decode ? runs.get(r).decodeCurve : runs.get(r).prefillCurve) {
                line.append(String.format(Locale.ROOT, "%.1f,%.1f ", x0 + w * p[0] / maxX, y0 + h - h * p[1] / maxY));
            }
            s.append("<polyline fill='none' stroke='").append(colour(r)).append("' stroke-width='2' points='").append(line).append("'/>\n");
        }
    }

    private static double niceCeiling(double v) {
        double magnitude = Math.pow(10, Math.floor(Math.log10(v)));
        for (double step : new double[] {1, 2, 2.5, 5, 10}) {
            if (step * magnitude >= v) return step * magnitude;
        }
        return 10 * magnitude;
    }

    private static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
