"""Small helpers every part uses: atomic files, progress and consoles, devices, shards, weighted terms, signals."""
