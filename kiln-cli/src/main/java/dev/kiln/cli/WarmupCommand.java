package dev.kiln.cli;

import dev.kiln.vm.EngineWarmup;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * Loads the classes a `kiln run` needs without touching the host, so bin/kiln can archive them for
 * class-data sharing after a build. Prints nothing and leaves nothing behind;
 * what it does not load, each run loads and links from the jars again.
 */
@Command(name = "warmup", hidden = true)
final class WarmupCommand implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
        EngineWarmup.run();
        Kiln.subcommand("run").parseArgs("--memory", "1g", "--timeout", "1m", "--", "true");
        new RunCommand().parseQuickly(java.util.List.of("--memory", "1g", "--timeout", "1m", "-e", "A=1", "--", "true"));
        Path scratch = Files.createTempFile("kiln-warmup-", ".lock");
        try (FileChannel lock = FileChannel.open(scratch, StandardOpenOption.WRITE)) {
            lock.lock().release();
            new ProcessBuilder("true").start().waitFor();
        } finally {
            Files.delete(scratch);
        }
        return ExitCodes.OK;
    }
}
