package dev.kiln.testkit.github;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** A runner-side answer: status and JSON body (null for none). */
record FakeApiAnswer(int status, JsonNode body) {
    static FakeApiAnswer error(int status, String message) {
        ObjectNode body = FakeGitHub.JSON.createObjectNode();
        body.put("message", message);
        return new FakeApiAnswer(status, body);
    }
}
