"""Pure rules of Vecinos: plain data in, decisions out; no I/O, no clock, standard library only."""
