-- Architectures a host runs under emulation because its operator said so (issue 17): `kiln agent --emulate
-- arm64` on an x86_64 host. Comma-separated, sorted ids (arm64); empty for a host that runs only its own arch.

ALTER TABLE hosts ADD COLUMN emulated_arches VARCHAR(64) NOT NULL DEFAULT '';
