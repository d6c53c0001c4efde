//! The memorization-to-generalization figure (R11, R13): CSV and SVG of RP, GL, E_gen and E_mem.
