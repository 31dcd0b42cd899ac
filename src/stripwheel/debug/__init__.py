"""Debug information kept out of stripped ELF binaries: debug files and where they go."""
