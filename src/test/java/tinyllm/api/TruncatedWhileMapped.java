package tinyllm.api;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Path;

import tinyllm.TinyLlmException;

/**
 * The child JVM of {@link TruncatedCheckpointTest}: warms a session on {@code args[0]} for {@code args[2]} rounds
 * (400 by default: until C2 has compiled the kernels; a few: kernels still interpreted), says "warm", waits for a line on stdin (the parent truncates the file meanwhile),
 * then keeps generating. Prints "error: ..." and exits 1 on a TinyLlmException, "done" and exits 0 if
 * generation survived.
 */
public final class TruncatedWhileMapped {
    public static void main(String[] args) throws Exception {
        boolean map = Boolean.parseBoolean(args[1]);
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 400;
        try (Model model = Model.open(Path.of(args[0]), 1, map); Session session = model.newSession()) {
            for (int round = 0; round < rounds; round++) {
                generate(session);
            }
            System.out.println("warm");
            new BufferedReader(new InputStreamReader(System.in)).readLine();
            for (int round = 0; round < 20; round++) {
                generate(session);
            }
            System.out.println("done");
        } catch (TinyLlmException e) {
            System.out.println("error: " + e.getMessage());
            System.exit(1);
        }
    }

    private static void generate(Session session) {
        session.reset();
        session.prefill(new int[] {10, 200, 257, 499});
        for (int i = 0; i < 50; i++) {
            session.append(session.argmax());
        }
    }
}
