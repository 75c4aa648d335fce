package dev.kiln.server;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.ByteArrayOutputStream;
import java.net.URLEncoder;
import java.util.List;
import java.util.Random;
import java.util.UUID;

/**
 * Generated malformed requests for the intake campaign: GitHub deliveries (signed right, signed wrong and
 * unsigned; with broken, missing and odd headers; bodies truncated, with bytes flipped or inserted, fields
 * removed or given other types, huge, deeply nested, not UTF-8, form-encoded with and without a payload) and
 * API bodies (jobs, hosts, an agent's enrolment, sync and logs) mutated the same ways. Deterministic for a seed.
 */
final class MalformedBodies {
    /** How a delivery is signed: with Kiln's secret, with another one, or not at all. */
    enum Signature { RIGHT, WRONG, NONE }

    /** One request to send: where, its headers and body, and for a delivery how it is signed (null: an API call). */
    record Request(String path, List<String> headers, byte[] body, Signature signature) {
        boolean webhook() {
            return signature != null;
        }
    }

    /** GitHub's documented queued example (ci-protocols.md §1.2) with a Kiln label, the base of the mutations. */
    static final String QUEUED = """
            {"action": "queued", "workflow_job": {"id": 41000000123, "run_id": 15000000456, "run_attempt": 1,
             "head_sha": "9f2c3a71d0b4c2e8a1f6b3d5c7e9a0b1c2d3e4f5", "head_branch": "main", "workflow_name": "ci",
             "name": "build (linux)", "status": "queued", "conclusion": null, "created_at": "2026-09-01T10:00:00Z",
             "started_at": "2026-09-01T10:00:00Z", "completed_at": null, "labels": ["kiln-2cpu-4gb"], "runner_id": null,
             "runner_name": null, "runner_group_id": null, "runner_group_name": null, "steps": []},
             "repository": {"id": 700001, "name": "widgets", "full_name": "acme/widgets", "private": true,
              "owner": {"login": "acme", "id": 9001, "type": "Organization"}},
             "organization": {"login": "acme", "id": 9001}, "installation": {"id": 55501}, "sender": {"login": "dev1", "id": 42}}
            """;
    static final String PING = """
            {"zen": "Design for failure.", "hook_id": 450001, "hook": {"type": "App", "id": 450001, "app_id": 12345}}
            """;
    static final String JOB = """
            {"command": ["echo", "hi"], "env": {"A": "b"}, "cpus": 1, "memoryMib": 512, "diskGib": 1, "timeoutSeconds": 60}
            """;
    static final String HOST = "{\"name\": \"fuzz-host\"}";
    static final String ENROL = "{\"enrolmentToken\": \"kiln-enrol-0000\"}";
    static final String SYNC = """
            {"bootId": "b1", "sequence": 1, "version": "test", "arch": "x86_64", "vcpus": 4, "memoryMib": 8192,
             "diskGib": 100, "vms": [{"id": "vm-1", "state": "RUNNING"}]}
            """;
    static final String LOGS = "[{\"job\": \"j-1\", \"vm\": \"vm-1\", \"seq\": 1, \"stream\": \"stdout\", \"text\": \"hi\"}]";

    private static final List<String> EVENTS = List.of("workflow_job", "workflow_job", "workflow_job", "ping", "installation",
            "", "WORKFLOW_JOB", "workflow job", "x".repeat(100), "../etc");
    private static final List<String> VALUES = List.of("null", "-1", "0", "1e400", "18446744073709551616", "3.5", "true",
            "\"\"", "\"x\"", "[]", "{}", "[null]", "\"" + "y".repeat(5000) + "\"", "\"kiln-999cpu-9999gb\"", "[\"kiln-0cpu-0gb\"]",
            "[\"kiln-2cpu-4gb\",\"kiln-4cpu-8gb\"]", "\"kiln-" + "v".repeat(70) + "\"", "\"\\u0000\"", "\"2026-13-45T99:00:00Z\"",
            "{\"login\": \"" + "o".repeat(80) + "\"}", "\"in_progress\"", "\"completed\"");
    private static final List<String> FIELDS = List.of("action", "workflow_job", "id", "run_id", "labels", "name", "repository",
            "owner", "login", "full_name", "installation", "runner_name", "conclusion", "created_at", "command", "env", "cpus",
            "memoryMib", "diskGib", "timeoutSeconds", "bootId", "sequence", "vms", "state", "text", "enrolmentToken", "hook",
            "app_id", "hook_id");

    private final Random random;

    MalformedBodies(long seed) {
        this.random = new Random(seed);
    }

    Request next() {
        return random.nextInt(10) < 7 ? webhook() : api();
    }

    private Request webhook() {
        String event = pick(EVENTS);
        String base = event.equals("ping") ? PING : QUEUED;
        byte[] body = mutate(base);
        List<String> headers = new java.util.ArrayList<>();
        if (random.nextInt(10) > 0) {
            headers.addAll(List.of("X-GitHub-Event", event.isEmpty() ? " " : event));
        }
        switch (random.nextInt(8)) {
            case 0 -> { }
            case 1 -> headers.addAll(List.of("X-GitHub-Delivery", "not a delivery id!"));
            case 2 -> headers.addAll(List.of("X-GitHub-Delivery", "d".repeat(150)));
            default -> headers.addAll(List.of("X-GitHub-Delivery", UUID.randomUUID().toString()));
        }
        if (random.nextInt(6) == 0) {
            String form = random.nextBoolean() ? "payload=" + URLEncoder.encode(new String(body, UTF_8), UTF_8)
                    : random.nextBoolean() ? "other=1&payload=%zz" : "nopayload=" + random.nextInt();
            body = form.getBytes(UTF_8);
            headers.addAll(List.of("Content-Type", "application/x-www-form-urlencoded"));
        } else if (random.nextInt(5) == 0) {
            headers.addAll(List.of("Content-Type", pick(List.of("text/plain", "application/json; charset=latin1", "x/y"))));
        } else {
            headers.addAll(List.of("Content-Type", "application/json"));
        }
        int signing = random.nextInt(8);
        return new Request("/webhooks/github", headers, body, signing < 6 ? Signature.RIGHT : signing == 6 ? Signature.WRONG
                : Signature.NONE);
    }

    private Request api() {
        return switch (random.nextInt(5)) {
            case 0, 1 -> new Request("/api/v1/jobs", List.of(), mutate(JOB), null);
            case 2 -> new Request("/api/v1/hosts", List.of(), mutate(HOST), null);
            case 3 -> new Request("/api/v1/agent/enrol", List.of(), mutate(ENROL), null);
            default -> random.nextBoolean() ? new Request("/api/v1/agent/sync", List.of(), mutate(SYNC), null)
                    : new Request("/api/v1/agent/logs", List.of(), mutate(LOGS), null);
        };
    }

    /** One to three mutations of a valid body; at times garbage of its own. */
    byte[] mutate(String base) {
        if (random.nextInt(20) == 0) {
            byte[] garbage = new byte[random.nextInt(2000)];
            random.nextBytes(garbage);
            return garbage;
        }
        if (random.nextInt(30) == 0) {
            int depth = 20 + random.nextInt(2000);
            return ("{\"a\": " + "[".repeat(depth) + "]".repeat(depth) + "}").getBytes(UTF_8);
        }
        String text = base;
        for (int i = 1 + random.nextInt(3); i > 0; i--) {
            text = switch (random.nextInt(6)) {
                case 0 -> text.isEmpty() ? text : text.substring(0, random.nextInt(text.length()));
                case 1 -> replaceValue(text);
                case 2 -> removeField(text);
                case 3 -> text.replace("\"" + pick(FIELDS) + "\"", "\"" + pick(FIELDS) + "\"");
                case 4 -> insert(text, pick(List.of(",", "}", "{", "\"", ":", "\\", "]", "\u0000", "\u00e9", "\ud83d\ude00")));
                default -> replaceValue(replaceValue(text));
            };
        }
        byte[] bytes = text.getBytes(UTF_8);
        if (random.nextInt(12) == 0 && bytes.length > 0) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int at = random.nextInt(bytes.length);
            out.write(bytes, 0, at);
            out.write(pick(List.of(0x00, 0xff, 0xc3, 0x80, 0xfe)));
            out.write(bytes, at, bytes.length - at);
            return out.toByteArray();
        }
        return bytes;
    }

    private String replaceValue(String text) {
        String field = "\"" + pick(FIELDS) + "\":";
        int at = text.indexOf(field);
        if (at < 0) {
            return text;
        }
        int start = at + field.length();
        int end = start;
        int depth = 0;
        boolean inString = false;
        while (end < text.length()) {
            char c = text.charAt(end);
            if (inString) {
                if (c == '\\') {
                    end++;
                } else if (c == '"') {
                    inString = false;
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (depth == 0) {
                    break;
                }
                depth--;
            } else if (c == ',' && depth == 0) {
                break;
            }
            end++;
        }
        return text.substring(0, start) + " " + pick(VALUES) + text.substring(end);
    }

    private String removeField(String text) {
        String field = "\"" + pick(FIELDS) + "\":";
        int at = text.indexOf(field);
        return at < 0 ? text : replaceValue(text).replaceFirst(java.util.regex.Pattern.quote(field), "\"removed-" + random.nextInt(1000) + "\":");
    }

    private String insert(String text, String what) {
        int at = random.nextInt(text.length() + 1);
        return text.substring(0, at) + what + text.substring(at);
    }

    private <T> T pick(List<T> values) {
        return values.get(random.nextInt(values.size()));
    }
}
