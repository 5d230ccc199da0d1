package tinyllm.examples;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import com.sun.management.ThreadMXBean;
import tinyllm.api.*;

/** Reproduces the allocation that never settles after a warm-up of varied prompt lengths (see the alloc branch report): java ... VariedWarmUp CHECKPOINT varied|none WINDOWS. */
public final class VariedWarmUp {
    static final ThreadMXBean MX = (ThreadMXBean) ManagementFactory.getThreadMXBean();
    public static void main(String[] a) {
        Path p = Path.of(a[0]);
        boolean warm = a[1].equals("varied");
        int windows = Integer.parseInt(a[2]);
        try (Model m = Model.open(p, 2); Session s = m.newSession()) {
            Thread w = m.workerThreads()[0];
            int[][] prompts = new int[8][];
            int[] lens = {1,2,3,4,5,6,7,17};
            for (int i = 0; i < 8; i++) { prompts[i] = new int[lens[i]]; for (int j = 0; j < lens[i]; j++) prompts[i][j] = 10 + j; }
            if (warm) for (int r = 0; r < 40; r++) for (int[] pr : prompts) { s.reset(); s.prefill(pr); s.append(s.argmax()); }
            int[] pr = {46, 20, 75};
            long t0 = System.nanoTime();
            for (int win = 0; win < windows; win++) {
                long b1 = MX.getThreadAllocatedBytes(w.threadId()), b0 = MX.getCurrentThreadAllocatedBytes();
                s.reset(); s.prefill(pr); for (int k = 0; k < 8; k++) s.append(s.argmax());
                long c = MX.getCurrentThreadAllocatedBytes() - b0, d = MX.getThreadAllocatedBytes(w.threadId()) - b1;
                if (win % 20 == 0 || win == windows - 1) System.out.printf("win %d caller %d worker %d  (%.1fs)%n", win, c, d, (System.nanoTime()-t0)/1e9);
            }
        }
    }
}
