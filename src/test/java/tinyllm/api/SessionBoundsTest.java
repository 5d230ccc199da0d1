package tinyllm.api;

import org.junit.jupiter.api.Test;

import tinyllm.Fixtures;
import tinyllm.TinyLlmException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Session.prefill's checks hold for counts that would wrap an int. */
class SessionBoundsTest {
    @Test
    void hugeCountsAreRefusedNotWrapped() {
        try (Model model = Model.open(Fixtures.path("micro.bin"), 1); Session session = model.newSession()) {
            int[] tokens = {1, 2, 3};
            session.prefill(tokens, 0, 2);
            assertThrows(IndexOutOfBoundsException.class, () -> session.prefill(tokens, 2, Integer.MAX_VALUE));
            assertThrows(IndexOutOfBoundsException.class, () -> session.prefill(tokens, Integer.MAX_VALUE, 2));
            int[] full = new int[64];
            assertThrows(TinyLlmException.class, () -> session.prefill(full, 0, 63)); // 2 held + 63 > 64
            assertEquals(2, session.position());
            session.prefill(full, 0, 62); // the context's last position can be filled
            assertEquals(64, session.position());
        }
    }
}
