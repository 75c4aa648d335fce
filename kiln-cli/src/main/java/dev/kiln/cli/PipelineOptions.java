package dev.kiln.cli;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageStore;
import dev.kiln.server.images.ImagePipeline;
import dev.kiln.server.images.PipelineConfig;
import dev.kiln.vm.ImageBuilder;
import dev.kiln.vm.ImageSmokeTest;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import picocli.CommandLine.Option;

/** `--image-pipeline FILE`: the server keeps the images the file lists fresh, building and booting them on this host. */
final class PipelineOptions {
    /** A smoke VM boots the image and starts dockerd: minutes under emulation. */
    private static final Duration SMOKE_TIMEOUT = Duration.ofMinutes(15);

    @Option(names = "--image-pipeline", paramLabel = "FILE", description = "keep images fresh: rebuild, boot and"
            + " roll out those FILE lists (keep=runner,runner/arm64,default; schedule, release-poll, releases-api,"
            + " download-url, ...) on this host, which needs the recipes and root")
    Path file;

    /** The pipeline the file describes, or null without --image-pipeline. */
    ImagePipeline.Factory factory(HostOptions host, ImageStore served, Path servedDir) {
        if (file == null) {
            return null;
        }
        if (!servedDir.toAbsolutePath().normalize().equals(host.stateDir().resolve("images").toAbsolutePath().normalize())) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, ("--image-pipeline builds into and boots from this host's"
                    + " images, %s; --images-dir %s is another directory").formatted(host.stateDir().resolve("images"),
                    servedDir));
        }
        Properties properties = new Properties();
        try (Reader reader = Files.newBufferedReader(file)) {
            properties.load(reader);
        } catch (IOException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "cannot read --image-pipeline " + file + ": " + e.getMessage(), e);
        }
        ImageBuilder builder = new ImageBuilder(HostOptions.recipes(), served, host.stateDir().resolve("cache"));
        PipelineConfig config = PipelineConfig.read(properties, builder.recipes(), host.stateDir().resolve("pipeline"));
        ImageSmokeTest smoke = new ImageSmokeTest(host.engine(), SMOKE_TIMEOUT);
        return ImagePipeline.factory(config, (kept, tarball, date, progress) -> builder.buildCandidate(kept.recipe(),
                kept.name(), kept.arch(), tarball, date, progress), smoke::check);
    }
}
