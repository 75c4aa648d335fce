package dev.kiln.testkit.github;

/** What runs in a simulated runner VM ({@link SimulatedRunner}, say): given the VM's JIT config, its exit code. */
@FunctionalInterface
public interface RunnerGuest {
    int run(String jitConfig) throws Exception;
}
