# CPU operator dependencies (BLAS choice, vector flags) for jet_core. Owned by the CPU ops.
