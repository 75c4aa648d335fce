package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.KilnException;
import org.junit.jupiter.api.Test;

class CidrTest {
    @Test
    void carvesOneSlash30PerSlot() {
        Cidr range = Cidr.parse("10.200.0.0/16");
        assertThat(range.slots()).isEqualTo(16384);
        assertThat(range.tapAddress(0)).isEqualTo("10.200.0.1");
        assertThat(range.guestAddress(0)).isEqualTo("10.200.0.2");
        assertThat(range.tapAddress(64)).isEqualTo("10.200.1.1");
        assertThat(range.guestAddress(16383)).isEqualTo("10.200.255.254");
        assertThatThrownBy(() -> range.guestAddress(16384)).hasMessageContaining("outside 10.200.0.0/16");
    }

    @Test
    void badRangesSayWhatIsWrong() {
        assertThatThrownBy(() -> Cidr.parse("10.200.0.1/16")).isInstanceOf(KilnException.class)
                .hasMessageContaining("did you mean 10.200.0.0/16");
        assertThatThrownBy(() -> Cidr.parse("10.200.0.0")).hasMessageContaining("not a range");
        assertThatThrownBy(() -> Cidr.parse("10.300.0.0/16")).hasMessageContaining("not an IPv4 address");
        assertThat(Cidr.parse("10.0.0.0/31").slots()).isZero();
    }
}
