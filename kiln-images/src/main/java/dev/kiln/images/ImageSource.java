package dev.kiln.images;

import java.io.IOException;
import java.io.InputStream;

/** Where a host fetches images it lacks: the server's image API, or another store on disk. */
public interface ImageSource {
    /** The manifest of the image with this digest, as the source claims it. */
    ImageManifest manifest(String digest) throws IOException;

    /** One of the image's files ({@link ImageManifest#KERNEL}, ...). */
    InputStream open(String digest, String file) throws IOException;
}
