package dev.kiln.vm;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;

/** An IPv4 range; Kiln carves one routed /30 per VM slot out of it. */
public record Cidr(int network, int prefix) {
    public Cidr {
        if (prefix < 0 || prefix > 32) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "prefix /" + prefix + " is not between 0 and 32");
        }
        if ((network & mask(prefix)) != network) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT,
                    "%s/%d has host bits set; did you mean %s/%d?".formatted(
                            format(network), prefix, format(network & mask(prefix)), prefix));
        }
    }

    public static Cidr parse(String text) {
        String[] parts = text.strip().split("/", -1);
        if (parts.length != 2) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "'" + text + "' is not a range like 10.200.0.0/16");
        }
        try {
            return new Cidr(parseAddress(parts[0]), Integer.parseInt(parts[1]));
        } catch (NumberFormatException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "'" + text + "' is not a range like 10.200.0.0/16", e);
        }
    }

    static int parseAddress(String text) {
        String[] octets = text.split("\\.", -1);
        if (octets.length != 4) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "'" + text + "' is not an IPv4 address");
        }
        int address = 0;
        for (String octet : octets) {
            int value = Integer.parseInt(octet);
            if (value < 0 || value > 255) {
                throw new KilnException(ErrorCode.INVALID_ARGUMENT, "'" + text + "' is not an IPv4 address");
            }
            address = (address << 8) | value;
        }
        return address;
    }

    static String format(int address) {
        return "%d.%d.%d.%d".formatted(address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255);
    }

    private static int mask(int prefix) {
        return prefix == 0 ? 0 : -1 << (32 - prefix);
    }

    /** How many /30 point-to-point links fit in this range. */
    public int slots() {
        return prefix > 30 ? 0 : 1 << (30 - prefix);
    }

    /** The host's (tap's) address of slot n: the first usable address of its /30. */
    String tapAddress(int slot) {
        checkSlot(slot);
        return format(network + 4 * slot + 1);
    }

    /** The guest's address of slot n: the second usable address of its /30. */
    String guestAddress(int slot) {
        checkSlot(slot);
        return format(network + 4 * slot + 2);
    }

    private void checkSlot(int slot) {
        if (slot < 0 || slot >= slots()) {
            throw new IllegalArgumentException("slot " + slot + " is outside " + this + " (" + slots() + " slots)");
        }
    }

    @Override
    public String toString() {
        return format(network) + "/" + prefix;
    }
}
