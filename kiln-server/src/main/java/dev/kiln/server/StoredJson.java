package dev.kiln.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;

/** Lists and maps as the store keeps them: JSON text. */
public final class StoredJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private StoredJson() {}

    public static String write(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static <T> T read(String json, TypeReference<T> type) {
        try {
            return JSON.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw new KilnException(ErrorCode.INTERNAL, "a stored row has unreadable JSON: " + e.getOriginalMessage(), e);
        }
    }
}
