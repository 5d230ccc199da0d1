package tinyllm.runtime;

import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The pool's life cycle: close() while another thread dispatches must neither hang it nor lose a task. */
class WorkerPoolTest {
    @Test
    void closeRacingARunningDispatcherNeverHangsIt() throws Exception {
        for (int attempt = 0; attempt < 50; attempt++) {
            WorkerPool pool = new WorkerPool(2);
            AtomicBoolean stop = new AtomicBoolean();
            Thread dispatcher = Thread.ofPlatform().start(() -> {
                try {
                    while (!stop.get()) {
                        pool.run((worker, workers) -> Thread.onSpinWait());
                    }
                } catch (IllegalStateException closed) {
                    // the pool closed between two calls: the expected way out
                }
            });
            Thread.sleep(attempt % 3);
            pool.close();
            dispatcher.join(10_000);
            stop.set(true);
            assertFalse(dispatcher.isAlive(), "dispatcher hung after close() on attempt " + attempt);
        }
    }

    @Test
    void runAfterCloseIsAnError() {
        WorkerPool pool = new WorkerPool(2);
        pool.close();
        assertThrows(IllegalStateException.class, () -> pool.run((w, n) -> {}));
    }
}
