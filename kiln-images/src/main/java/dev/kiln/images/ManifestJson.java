package dev.kiln.images;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;

/**
 * An image's manifest.json, read and written with Jackson's streaming parser. Every `kiln run` reads
 * one before its VM can start, and Jackson's object mapper takes ~0.1 s to get going in a fresh JVM;
 * the parser, a few milliseconds. The format is the record's, as the agent's mapper reads it.
 */
public final class ManifestJson {
    private static final JsonFactory JSON = new JsonFactory();

    private ManifestJson() {}

    public static byte[] write(ImageManifest manifest) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (JsonGenerator out = JSON.createGenerator(bytes).useDefaultPrettyPrinter()) {
            out.writeStartObject();
            out.writeStringField("name", manifest.name());
            out.writeStringField("version", manifest.version());
            out.writeStringField("arch", manifest.arch());
            out.writeStringField("digest", manifest.digest());
            out.writeStringField("recipeDigest", manifest.recipeDigest());
            out.writeObjectFieldStart("kernel");
            out.writeStringField("source", manifest.kernel().source());
            out.writeStringField("version", manifest.kernel().version());
            out.writeStringField("recipe", manifest.kernel().recipe());
            out.writeEndObject();
            out.writeObjectFieldStart("files");
            for (var file : manifest.files().entrySet()) {
                out.writeObjectFieldStart(file.getKey());
                out.writeStringField("sha256", file.getValue().sha256());
                out.writeNumberField("size", file.getValue().size());
                out.writeEndObject();
            }
            out.writeEndObject();
            out.writeStringField("runnerVersion", manifest.runnerVersion());
            out.writeStringField("runnerInstalledOn", manifest.runnerInstalledOn());
            out.writeEndObject();
        }
        return bytes.toByteArray();
    }

    /** The manifest in these bytes; an {@link IOException} says what in them is wrong. */
    public static ImageManifest read(byte[] json) throws IOException {
        try (JsonParser in = JSON.createParser(json)) {
            expect(in, in.nextToken(), JsonToken.START_OBJECT, "the manifest");
            Map<String, String> text = new TreeMap<>();
            Map<String, ImageManifest.FileEntry> files = null;
            ImageManifest.Kernel kernel = null;
            while (in.nextToken() == JsonToken.FIELD_NAME) {
                String field = in.currentName();
                JsonToken value = in.nextToken();
                switch (field) {
                    case "name", "version", "arch", "digest", "recipeDigest", "kernelVersion", "runnerVersion",
                            "runnerInstalledOn" -> text.put(field, string(in, value, field));
                    case "files" -> files = files(in, value);
                    case "kernel" -> kernel = kernel(in, value);
                    default -> throw new IOException("unknown field '%s' in the manifest".formatted(field));
                }
            }
            if (in.nextToken() != null) {
                throw new IOException("text after the manifest's closing brace");
            }
            for (String required : new String[] {"name", "digest"}) {
                if (text.get(required) == null) {
                    throw new IOException("the manifest has no " + required);
                }
            }
            if (files == null) {
                throw new IOException("the manifest has no files");
            }
            if (kernel == null) {
                // Manifests written before images recorded their kernel: all booted Debian's cloud kernel.
                if (text.get("kernelVersion") == null) {
                    throw new IOException("the manifest has no kernel");
                }
                kernel = new ImageManifest.Kernel(ImageManifest.Kernel.DEBIAN_CLOUD, text.get("kernelVersion"), null);
            }
            try {
                return new ImageManifest(text.get("name"), text.get("version"), text.get("arch"), text.get("digest"),
                        text.get("recipeDigest"), kernel, files, text.get("runnerVersion"),
                        text.get("runnerInstalledOn"));
            } catch (IllegalArgumentException e) {
                throw new IOException(e.getMessage(), e);
            }
        }
    }

    private static ImageManifest.Kernel kernel(JsonParser in, JsonToken value) throws IOException {
        expect(in, value, JsonToken.START_OBJECT, "kernel");
        Map<String, String> fields = new TreeMap<>();
        while (in.nextToken() == JsonToken.FIELD_NAME) {
            String field = in.currentName();
            JsonToken token = in.nextToken();
            switch (field) {
                case "source", "version", "recipe" -> fields.put(field, string(in, token, "kernel." + field));
                default -> throw new IOException("unknown field 'kernel.%s' in the manifest".formatted(field));
            }
        }
        if (fields.get("source") == null || fields.get("version") == null) {
            throw new IOException("kernel needs source and version");
        }
        return new ImageManifest.Kernel(fields.get("source"), fields.get("version"), fields.get("recipe"));
    }

    private static Map<String, ImageManifest.FileEntry> files(JsonParser in, JsonToken value) throws IOException {
        expect(in, value, JsonToken.START_OBJECT, "files");
        Map<String, ImageManifest.FileEntry> files = new TreeMap<>();
        while (in.nextToken() == JsonToken.FIELD_NAME) {
            String file = in.currentName();
            expect(in, in.nextToken(), JsonToken.START_OBJECT, "files." + file);
            String sha256 = null;
            Long size = null;
            while (in.nextToken() == JsonToken.FIELD_NAME) {
                String field = in.currentName();
                JsonToken token = in.nextToken();
                switch (field) {
                    case "sha256" -> sha256 = string(in, token, "files." + file + ".sha256");
                    case "size" -> {
                        expect(in, token, JsonToken.VALUE_NUMBER_INT, "files." + file + ".size");
                        size = in.getLongValue();
                    }
                    default -> throw new IOException("unknown field 'files.%s.%s' in the manifest".formatted(file, field));
                }
            }
            if (sha256 == null || size == null) {
                throw new IOException("files.%s needs sha256 and size".formatted(file));
            }
            files.put(file, new ImageManifest.FileEntry(sha256, size));
        }
        return files;
    }

    private static String string(JsonParser in, JsonToken token, String field) throws IOException {
        if (token == JsonToken.VALUE_NULL) {
            return null;
        }
        expect(in, token, JsonToken.VALUE_STRING, field);
        return in.getText();
    }

    private static void expect(JsonParser in, JsonToken actual, JsonToken expected, String what) throws IOException {
        if (actual != expected) {
            throw new IOException("%s must be %s, not %s (line %d)".formatted(what, describe(expected), describe(actual),
                    in.currentLocation().getLineNr()));
        }
    }

    private static String describe(JsonToken token) {
        if (token == null) {
            return "the end of the text";
        }
        return switch (token) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT -> "a whole number";
            case VALUE_NUMBER_FLOAT -> "a fraction";
            case VALUE_TRUE, VALUE_FALSE -> "true or false";
            case VALUE_NULL -> "null";
            default -> token.asString() == null ? token.name() : "'" + token.asString() + "'";
        };
    }
}
