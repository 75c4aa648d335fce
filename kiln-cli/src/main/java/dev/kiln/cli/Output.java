package dev.kiln.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.api.Json;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** Listings as aligned columns for people, or as JSON with {@code --json}. */
final class Output {
    private Output() {}

    static void json(PrintWriter out, Object value) {
        try {
            out.println(Json.lenient().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(value));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static void table(PrintWriter out, List<String> header, List<List<String>> rows) {
        List<List<String>> all = new ArrayList<>();
        all.add(header);
        all.addAll(rows);
        int[] widths = new int[header.size()];
        for (List<String> row : all) {
            for (int i = 0; i < row.size(); i++) {
                widths[i] = Math.max(widths[i], String.valueOf(row.get(i)).length());
            }
        }
        for (List<String> row : all) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < row.size(); i++) {
                String cell = String.valueOf(row.get(i));
                line.append(i == row.size() - 1 ? cell : String.format("%-" + widths[i] + "s  ", cell));
            }
            out.println(line.toString().stripTrailing());
        }
    }

    static String mib(long mib) {
        return mib % 1024 == 0 ? (mib / 1024) + "G" : mib + "M";
    }

    static String orDash(Object value) {
        return value == null ? "-" : value.toString();
    }
}
